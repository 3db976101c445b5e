import { useState } from "preact/hooks";
import type { ApiKeyScope, ApiKeyView, PasskeyView, SignedOut } from "../../../../protocol/accounts.ts";
import { messageOf, request } from "../../api.ts";
import { navigate } from "../../router.ts";
import { dateTime } from "../../format.ts";
import { addPasskey, passkeysSupported } from "../../passkeys.ts";
import { AUTH } from "../../paths.ts";
import { isAdmin } from "../../permissions.ts";
import { me, role, signedOut } from "../../session.ts";
import { CopyField } from "../../components/CopyField.tsx";
import { Notice } from "../../components/Notice.tsx";
import { PersonalAiKey } from "./ChatSettings.tsx";
import { Section } from "./Section.tsx";
import { useList } from "./useList.ts";

function revokedText(done: SignedOut): string {
  return `${done.signedOutSessions} other session${done.signedOutSessions === 1 ? "" : "s"} signed out${done.revokedApiKeys ? `, ${done.revokedApiKeys} API key${done.revokedApiKeys === 1 ? "" : "s"} revoked` : ""}.`;
}

/**
 * The offer to end every other way in too, for when a password or a session may have leaked: whoever held it may
 * have made an API key or added a passkey, and a passkey of theirs cannot be told from one of yours.
 */
function RevokeKeysBox({ id, checked, onChange }: { id: string; checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <label for={id} class="check">
      <input id={id} type="checkbox" checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
      Also revoke all my API keys and remove every passkey (programs using the keys stop working; add your passkeys again afterwards)
    </label>
  );
}

function PasswordForm() {
  const [form, setForm] = useState({ currentPassword: "", newPassword: "", again: "" });
  const [revokeApiKeys, setRevokeApiKeys] = useState(false);
  const [note, setNote] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  async function submit(e: Event) {
    e.preventDefault();
    if (form.newPassword !== form.again) return setNote({ tone: "error", text: "The two new passwords differ." });
    try {
      const done = await request<SignedOut>(AUTH.password, { body: { currentPassword: form.currentPassword, newPassword: form.newPassword, revokeApiKeys } });
      setForm({ currentPassword: "", newPassword: "", again: "" });
      setRevokeApiKeys(false);
      setNote({ tone: "ok", text: `Password changed; ${revokedText(done)}` });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }
  const field = (name: keyof typeof form) => ({
    value: form[name],
    onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }),
  });
  return (
    <form class="stack narrow" onSubmit={submit}>
      <input type="text" autocomplete="username" value={me.value?.user.email ?? ""} readOnly hidden />
      <label for="pw-current">
        Current password
        <input id="pw-current" type="password" autocomplete="current-password" required {...field("currentPassword")} />
      </label>
      <label for="pw-new">
        New password <span class="muted">(12 characters or more)</span>
        <input id="pw-new" type="password" autocomplete="new-password" minLength={12} required {...field("newPassword")} />
      </label>
      <label for="pw-again">
        New password again
        <input id="pw-again" type="password" autocomplete="new-password" minLength={12} required {...field("again")} />
      </label>
      <RevokeKeysBox id="pw-revoke-keys" checked={revokeApiKeys} onChange={setRevokeApiKeys} />
      {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
      <div class="form-actions">
        <button type="submit">Change password</button>
      </div>
    </form>
  );
}

function SignOutEverywhere() {
  const [revokeApiKeys, setRevokeApiKeys] = useState(false);
  const [error, setError] = useState("");
  async function submit(e: Event) {
    e.preventDefault();
    if (!confirm(revokeApiKeys ? "Sign out of every browser, revoke all your API keys and remove every passkey?" : "Sign out of every browser, this one included?")) return;
    try {
      await request<SignedOut>(AUTH.logoutAll, { body: { revokeApiKeys } });
      signedOut();
      navigate("/signin");
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <form class="stack narrow" onSubmit={submit}>
      <p class="muted small">Ends every session of your account, this one included, and closes their open pages at once.</p>
      <RevokeKeysBox id="all-revoke-keys" checked={revokeApiKeys} onChange={setRevokeApiKeys} />
      <Notice>{error}</Notice>
      <div class="form-actions">
        <button type="submit" class="danger">
          Sign out everywhere
        </button>
      </div>
    </form>
  );
}

/** WebAuthn refuses IP addresses as the relying party: a passkey needs the page on a host name. */
function onIpAddress(): boolean {
  const host = window.location.hostname;
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith("[") || host.includes(":");
}

/** This page on localhost, when the hub is reached on a loopback address (`npm start`); null for any other address. */
function localAddress(): string | null {
  const url = new URL(window.location.href);
  if (!/^127\./.test(url.hostname) && url.hostname !== "[::1]") return null;
  url.hostname = "localhost";
  return url.href;
}

function Passkeys() {
  const list = useList<PasskeyView>(AUTH.passkeys, "passkeys");
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  async function add(e: Event) {
    e.preventDefault();
    setError("");
    try {
      await addPasskey(name.trim() || "passkey", password);
      setName("");
      setPassword("");
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  async function remove(p: PasskeyView) {
    if (!confirm(`Remove the passkey "${p.name}"?`)) return;
    try {
      await request(AUTH.passkey(p.id), { method: "DELETE" });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <>
      <Notice>{list.error}</Notice>
      {list.items?.length ? (
        <ul class="plain-list">
          {list.items.map((p) => (
            <li key={p.id}>
              <strong>{p.name}</strong> <span class="muted small">added {dateTime(p.createdAt)}{p.lastUsedAt ? `, last used ${dateTime(p.lastUsedAt)}` : ""}</span>{" "}
              <button type="button" class="link-button danger-text" onClick={() => remove(p)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      ) : list.items ? (
        <p class="muted">No passkeys yet.</p>
      ) : null}
      {onIpAddress() ? (
        <p class="notice notice-info" role="note">
          Passkeys cannot be added here: this page is open at {window.location.hostname}, an IP address, and browsers tie every passkey to a host name.{" "}
          {localAddress() ? (
            <>
              Open <a href={localAddress()!}>{localAddress()}</a> and add it there.
            </>
          ) : (
            "Open the hub by its host name and add it there."
          )}
        </p>
      ) : passkeysSupported ? (
        <form class="inline-form" onSubmit={add}>
          <label for="passkey-name">
            Name
            <input id="passkey-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="laptop" maxLength={100} />
          </label>
          <label for="passkey-password">
            Your password
            <input
              id="passkey-password"
              type="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Add a passkey</button>
        </form>
      ) : (
        <p class="muted">This browser does not support passkeys.</p>
      )}
      <Notice>{error}</Notice>
    </>
  );
}

export function ApiKeys() {
  const list = useList<ApiKeyView>(AUTH.apiKeys, "apiKeys");
  const [form, setForm] = useState<{ name: string; scope: ApiKeyScope }>({ name: "", scope: "read" });
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState("");
  // An admin-scoped key acts with its owner's admin rights, so only admins are offered one.
  const scopes: ApiKeyScope[] = isAdmin(role.value) || me.value?.user.superadmin ? ["read", "chat", "admin"] : ["read", "chat"];

  async function create(e: Event) {
    e.preventDefault();
    setError("");
    try {
      const answer = await request<{ key: string }>(AUTH.apiKeys, { body: { name: form.name.trim(), scope: form.scope } });
      setCreated(answer.key);
      setForm({ ...form, name: "" });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  async function revoke(k: ApiKeyView) {
    if (!confirm(`Revoke the API key "${k.name}"? Programs using it stop working.`)) return;
    try {
      await request(AUTH.apiKey(k.id), { method: "DELETE" });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <>
      <Notice>{list.error}</Notice>
      {list.items?.length ? (
        <table class="compact">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scope</th>
              <th scope="col">Key</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((k) => (
              <tr key={k.id}>
                <td data-label="Name">{k.name}</td>
                <td data-label="Scope">{k.scope}</td>
                <td data-label="Key">
                  <code>{k.prefix}…</code>
                </td>
                <td data-label="Last used" class="small">
                  {k.revokedAt ? `revoked ${dateTime(k.revokedAt)}` : k.lastUsedAt ? dateTime(k.lastUsedAt) : "never"}
                </td>
                <td>
                  {k.revokedAt ? null : (
                    <button type="button" class="link-button danger-text" onClick={() => revoke(k)}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : list.items ? (
        <p class="muted">No API keys.</p>
      ) : null}
      <form class="inline-form" onSubmit={create}>
        <label for="key-name">
          Name
          <input id="key-name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} required maxLength={100} placeholder="ci" />
        </label>
        <label for="key-scope">
          Scope
          <select id="key-scope" value={form.scope} onChange={(e) => setForm({ ...form, scope: e.currentTarget.value as ApiKeyScope })}>
            {scopes.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Create key</button>
      </form>
      <Notice>{error}</Notice>
      {created ? (
        <div class="secret-once">
          <p>
            <strong>The key is shown only now.</strong> Store it where your program reads it.
          </p>
          <CopyField label="API key" value={created} />
        </div>
      ) : null}
    </>
  );
}

export function AccountSettings() {
  const user = me.value!.user;
  return (
    <>
      <Section id="profile-title" title="Account">
        <dl class="facts">
          <dt>Name</dt>
          <dd>{user.name}</dd>
          <dt>Email</dt>
          <dd>{user.email}</dd>
          {user.superadmin ? (
            <>
              <dt>Role</dt>
              <dd>superadmin (every site)</dd>
            </>
          ) : null}
        </dl>
      </Section>
      <Section id="password-title" title="Password">
        <PasswordForm />
      </Section>
      <Section id="passkeys-title" title="Passkeys">
        <Passkeys />
      </Section>
      <PersonalAiKey />
      <Section id="everywhere-title" title="Sign out everywhere">
        <SignOutEverywhere />
      </Section>
    </>
  );
}
