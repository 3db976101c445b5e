import { useState } from "preact/hooks";
import type { MeResponse } from "../../../protocol/accounts.ts";
import { messageOf, request } from "../api.ts";
import { AUTH } from "../paths.ts";
import { navigate } from "../router.ts";
import { loadMe, me } from "../session.ts";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";

/** The first superadmin. The setup code is the hub's admin key (local) or its CORTEX_SETUP_CODE secret. */
export function Setup() {
  const [form, setForm] = useState({ setupCode: "", email: "", name: "", password: "", again: "" });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    if (form.password !== form.again) return setError("The two passwords differ.");
    setBusy(true);
    setError("");
    try {
      const { again: _again, ...body } = form;
      const answer = await request<MeResponse | undefined>(AUTH.setup, { body });
      if (answer && "user" in answer) me.value = answer;
      else await loadMe();
      navigate(me.value ? "/machines" : "/signin", { replace: true });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const field = (name: keyof typeof form) => ({
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }),
  });

  return (
    <main id="main" class="auth-page">
      <section class="auth-card" aria-labelledby="setup-title">
        <h1 id="setup-title">Set up Cortex</h1>
        <p class="muted">
          Create the first administrator. The setup code is the hub's admin key (<code>CORTEX_ADMIN_KEY</code> in <code>.dev.vars</code> when it
          runs locally) or the <code>CORTEX_SETUP_CODE</code> secret of a deployed hub.
        </p>
        <form class="stack" onSubmit={submit}>
          <label for="setup-code">
            Setup code
            <input id="setup-code" type="password" autocomplete="off" required {...field("setupCode")} />
          </label>
          <label for="setup-name">
            Your name
            <input id="setup-name" autocomplete="name" required maxLength={100} {...field("name")} />
          </label>
          <label for="setup-email">
            Email
            <input id="setup-email" type="email" autocomplete="username" required {...field("email")} />
          </label>
          <label for="setup-password">
            Password <span class="muted">(12 characters or more)</span>
            <input id="setup-password" type="password" autocomplete="new-password" minLength={12} required {...field("password")} />
          </label>
          <label for="setup-again">
            Password again
            <input id="setup-again" type="password" autocomplete="new-password" minLength={12} required {...field("again")} />
          </label>
          <Notice>{error}</Notice>
          <button type="submit" class="primary" disabled={busy}>
            Create administrator
          </button>
        </form>
        <p class="muted small">
          Already set up? <Link href="/signin">Sign in</Link>.
        </p>
      </section>
    </main>
  );
}
