import { useState } from "preact/hooks";
import type { MeResponse } from "../../../protocol/accounts.ts";
import { messageOf, request } from "../api.ts";
import { AUTH } from "../paths.ts";
import { location, navigate } from "../router.ts";
import { loadMe, me } from "../session.ts";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";

/** Joining a site from an invite link: signed-in people just accept; new people choose a name and password. */
export function AcceptInvite({ token }: { token: string }) {
  const [form, setForm] = useState({ name: "", email: "", password: "" });
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const signedIn = Boolean(me.value);

  async function accept(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const { email, ...rest } = form;
      const body = signedIn ? { token } : { token, ...rest, ...(email.trim() ? { email: email.trim() } : {}) };
      const answer = await request<MeResponse | undefined>(AUTH.acceptInvite, { body });
      if (answer && "user" in answer) me.value = answer;
      else await loadMe();
      navigate("/machines", { replace: true });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const next = encodeURIComponent(location.value.path + location.value.search);
  return (
    <main id="main" class="auth-page">
      <section class="auth-card" aria-labelledby="invite-title">
        <h1 id="invite-title">Join a site</h1>
        <form class="stack" onSubmit={accept}>
          {signedIn ? (
            <p>You are signed in as {me.value!.user.email}. Accepting adds this site to your account.</p>
          ) : (
            <>
              <p class="muted">
                New to this hub? Choose your name and a password. Already have an account? <Link href={`/signin?next=${next}`}>Sign in first</Link>.
              </p>
              <label for="invite-name">
                Your name
                <input id="invite-name" autocomplete="name" required maxLength={100} value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
              </label>
              <label for="invite-email">
                Email <span class="muted">(needed when the invite was not sent to your address)</span>
                <input id="invite-email" type="email" autocomplete="username" value={form.email} onInput={(e) => setForm({ ...form, email: e.currentTarget.value })} />
              </label>
              <label for="invite-password">
                Password <span class="muted">(12 characters or more)</span>
                <input
                  id="invite-password"
                  type="password"
                  autocomplete="new-password"
                  minLength={12}
                  required
                  value={form.password}
                  onInput={(e) => setForm({ ...form, password: e.currentTarget.value })}
                />
              </label>
            </>
          )}
          <Notice>{error}</Notice>
          <button type="submit" class="primary" disabled={busy}>
            Accept the invite
          </button>
        </form>
      </section>
    </main>
  );
}
