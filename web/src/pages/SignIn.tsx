import { useState } from "preact/hooks";
import type { MeResponse } from "../../../protocol/accounts.ts";
import { messageOf, request } from "../api.ts";
import { passkeysSupported, signInWithPasskey } from "../passkeys.ts";
import { AUTH } from "../paths.ts";
import { navigate, queryParam } from "../router.ts";
import { me } from "../session.ts";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";
import { localPath } from "../local-path.ts";

/** Where to go after signing in: the page that sent us here, if it is one of ours. */
function afterSignIn(): string {
  return localPath(queryParam("next"), window.location.origin) ?? "/machines";
}

export function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function done(p: Promise<MeResponse>) {
    setBusy(true);
    setError("");
    try {
      me.value = await p;
      navigate(afterSignIn(), { replace: true });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="auth-page">
      <section class="auth-card" aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Cortex</h1>
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void done(request<MeResponse>(AUTH.login, { body: { email, password } }));
          }}
        >
          <label for="signin-email">
            Email
            <input id="signin-email" type="email" autocomplete="username webauthn" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
          </label>
          <label for="signin-password">
            Password
            <input
              id="signin-password"
              type="password"
              autocomplete="current-password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              required
            />
          </label>
          <Notice>{error}</Notice>
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </form>
        {passkeysSupported ? (
          <>
            <p class="or">or</p>
            <button type="button" class="wide-button" disabled={busy} onClick={() => void done(signInWithPasskey(email || undefined))}>
              Sign in with a passkey
            </button>
          </>
        ) : null}
        <p class="muted small">
          First time on this hub? <Link href="/setup">Set it up</Link> with its setup code.
        </p>
      </section>
    </main>
  );
}
