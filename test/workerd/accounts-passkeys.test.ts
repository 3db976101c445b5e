import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { beforeAll, describe, expect, it } from "vitest";
import { AuditPage, MeResponse, PasskeyListResponse, PasskeyView } from "../../protocol/accounts.ts";
import { ANONYMOUS, call, directorySql, expectJson, join, PASSWORD, refusal, rootSession, sessionCookieOf, signIn, type Caller, type Person } from "./accounts-support.ts";
import { SoftAuthenticator } from "./soft-authenticator.ts";
import { BASE } from "./support.ts";

let root: Caller;
beforeAll(async () => {
  root = await rootSession();
});

async function registrationOptions(who: Caller, password = PASSWORD): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const res = await call(who, "/api/auth/passkeys/register/options", { body: { password } });
  expect(res.status).toBe(200);
  return (await res.json()) as PublicKeyCredentialCreationOptionsJSON;
}

async function loginOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const res = await call(ANONYMOUS, "/api/auth/passkeys/login/options", { body: { email: "whoever@example.com" } });
  expect(res.status).toBe(200);
  return (await res.json()) as PublicKeyCredentialRequestOptionsJSON;
}

/** A person with a registered software passkey. */
async function personWithPasskey(): Promise<{ person: Person; authenticator: SoftAuthenticator; passkey: PasskeyView }> {
  const person = await join("default", "member", root);
  const authenticator = await SoftAuthenticator.create();
  const response = await authenticator.register(await registrationOptions(person.caller), BASE);
  const passkey = await expectJson(await call(person.caller, "/api/auth/passkeys/register/verify", { body: { name: "laptop", response } }), 201, PasskeyView);
  return { person, authenticator, passkey };
}

function signInWith(response: unknown): Promise<Response> {
  return call(ANONYMOUS, "/api/auth/passkeys/login/verify", { body: { response } });
}

describe("passkeys", () => {
  it("offer registration options for the hub as the browser reaches it, asking for a discoverable credential", async () => {
    const person = await join("default", "member", root);
    const options = await registrationOptions(person.caller);
    expect(options.rp).toEqual({ name: "Cortex", id: "hub.test" });
    expect(options.user.name).toBe(person.email);
    expect(options.attestation).toBe("none");
    expect(options.authenticatorSelection?.residentKey).toBe("required");
    expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("register, are listed, and sign their owner in with a session cookie; the sign-in is audited", async () => {
    const { person, authenticator, passkey } = await personWithPasskey();
    expect(passkey.name).toBe("laptop");
    const listed = await expectJson(await call(person.caller, "/api/auth/passkeys"), 200, PasskeyListResponse);
    expect(listed.passkeys.map((p) => p.id)).toEqual([passkey.id]);

    const options = await loginOptions();
    expect(options.rpId).toBe("hub.test");
    expect(options.allowCredentials).toEqual([]);
    const signedIn = await signInWith(await authenticator.authenticate(options, BASE));
    const me = await expectJson(signedIn, 200, MeResponse);
    expect(me.user.email).toBe(person.email);
    const session: Caller = { kind: "cookie", cookie: sessionCookieOf(signedIn)! };
    expect((await call(session, "/api/auth/me")).status).toBe(200);

    const used = await expectJson(await call(person.caller, "/api/auth/passkeys"), 200, PasskeyListResponse);
    expect(used.passkeys[0]!.lastUsedAt).toBeGreaterThan(0);
    const audit = await expectJson(await call(root, "/api/audit?kind=sign_in&limit=1"), 200, AuditPage);
    expect(audit.entries[0]!.message).toBe(`${person.email} signed in with a passkey`);
  });

  it("are never blocked by wrong passwords, even from the address that locked itself out with them", async () => {
    const { person, authenticator } = await personWithPasskey();
    const from = { "CF-Connecting-IP": "203.0.113.77" };
    for (let i = 0; i < 25; i++) {
      await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: `wrong ${i}` }, headers: from });
    }
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: from })).status).toBe(429);
    const response = await authenticator.authenticate(await loginOptions(), BASE);
    const signedIn = await call(ANONYMOUS, "/api/auth/passkeys/login/verify", { body: { response }, headers: from });
    expect((await expectJson(signedIn, 200, MeResponse)).user.email).toBe(person.email);
  });

  it("use each challenge once: a replayed registration or sign-in is refused and changes nothing", async () => {
    const person = await join("default", "member", root);
    const authenticator = await SoftAuthenticator.create();
    const registration = await authenticator.register(await registrationOptions(person.caller), BASE);
    expect((await call(person.caller, "/api/auth/passkeys/register/verify", { body: { name: "one", response: registration } })).status).toBe(201);
    const again = await call(person.caller, "/api/auth/passkeys/register/verify", { body: { name: "two", response: registration } });
    expect((await refusal(again, 400)).code).toBe("challenge_invalid");

    const assertion = await authenticator.authenticate(await loginOptions(), BASE);
    expect((await signInWith(assertion)).status).toBe(200);
    const replay = await signInWith(assertion);
    expect((await refusal(replay, 401)).message).toBe("passkey sign-in failed: the challenge expired or was already used");
    expect(sessionCookieOf(replay)).toBeNull();
    const listed = await expectJson(await call(person.caller, "/api/auth/passkeys"), 200, PasskeyListResponse);
    expect(listed.passkeys.map((p) => p.name)).toEqual(["one"]);
  });

  it("refuse a challenge issued to someone else, or one that has expired", async () => {
    const alice = await join("default", "member", root);
    const bob = await join("default", "member", root);
    const forAlice = await (await SoftAuthenticator.create()).register(await registrationOptions(alice.caller), BASE);
    const stolen = await call(bob.caller, "/api/auth/passkeys/register/verify", { body: { name: "x", response: forAlice } });
    expect((await refusal(stolen, 400)).code).toBe("challenge_invalid");

    const { authenticator } = await personWithPasskey();
    const options = await loginOptions();
    await directorySql((sql) => sql.exec("UPDATE challenges SET expires_at = 0 WHERE challenge = ?", options.challenge));
    expect((await refusal(await signInWith(await authenticator.authenticate(options, BASE)), 401)).code).toBe("passkey_rejected");
  });

  it("refuse a forged signature, another origin, an unknown credential and a malformed answer", async () => {
    const { authenticator } = await personWithPasskey();
    const forger = await SoftAuthenticator.create(authenticator.credentialId);
    expect((await refusal(await signInWith(await forger.authenticate(await loginOptions(), BASE)), 401)).message).toBe(
      "passkey sign-in failed: the passkey's signature did not verify",
    );
    expect((await signInWith(await authenticator.authenticate(await loginOptions(), "https://evil.example"))).status).toBe(401);
    const stranger = await SoftAuthenticator.create();
    expect((await refusal(await signInWith(await stranger.authenticate(await loginOptions(), BASE)), 401)).code).toBe("unknown_passkey");
    const malformed = await call(ANONYMOUS, "/api/auth/passkeys/login/verify", { body: { response: { id: "x", type: "password" } } });
    expect((await refusal(malformed, 400)).code).toBe("invalid_body");
    // The real owner still gets in afterwards.
    expect((await signInWith(await authenticator.authenticate(await loginOptions(), BASE))).status).toBe(200);
  });

  it("are slowed down per IPv6 /64, not per address: rotating through one buys no further tries", async () => {
    const stranger = await SoftAuthenticator.create();
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      const assertion = await stranger.authenticate(await loginOptions(), BASE);
      statuses.push((await call(ANONYMOUS, "/api/auth/passkeys/login/verify", { body: { response: assertion }, headers: { "CF-Connecting-IP": `2001:db8:99:4::${(i + 1).toString(16)}` } })).status);
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
  });

  it("once removed, no longer sign anyone in", async () => {
    const { person, authenticator, passkey } = await personWithPasskey();
    expect((await call(person.caller, `/api/auth/passkeys/${passkey.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await refusal(await call(person.caller, `/api/auth/passkeys/${passkey.id}`, { method: "DELETE" }), 404)).code).toBe("passkey_not_found");
    expect((await refusal(await signInWith(await authenticator.authenticate(await loginOptions(), BASE)), 401)).code).toBe("unknown_passkey");
  });

  it("are added only with the account's password: without it or with a wrong one no challenge is issued, and the wrong one is audited", async () => {
    const person = await join("default", "member", root);
    const ask = (body: unknown) => call(person.caller, "/api/auth/passkeys/register/options", { body });
    expect((await refusal(await ask({}), 400)).code).toBe("invalid_body");
    expect((await refusal(await ask({ password: "not the password" }), 403)).code).toBe("wrong_password");
    expect(await directorySql((sql) => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM challenges WHERE user_id = ?", person.userId).one().n)).toBe(0);
    const audit = await expectJson(await call(root, "/api/audit?kind=password&limit=1"), 200, AuditPage);
    expect(audit.entries[0]).toMatchObject({ actor: person.email, message: `${person.email} gave a wrong current password to add a passkey` });
    expect((await ask({ password: PASSWORD })).status).toBe(200);
  });

  it("cannot be guessed for with a stolen session faster than by signing in: wrong passwords are throttled", async () => {
    const person = await join("default", "member", root);
    const from = { "CF-Connecting-IP": "192.0.2.211" };
    for (let i = 0; i < 5; i++) {
      const res = await call(person.caller, "/api/auth/passkeys/register/options", { body: { password: `guess ${i}` }, headers: from });
      expect(res.status).toBe(403);
    }
    const locked = await call(person.caller, "/api/auth/passkeys/register/options", { body: { password: PASSWORD }, headers: from });
    expect(locked.status).toBe(429);
  });

  it("cannot be guessed for by rotating through an IPv6 /64: the /64 is one address", async () => {
    const person = await join("default", "member", root);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const from = { "CF-Connecting-IP": `2001:db8:99:2::${(i + 1).toString(16)}` };
      statuses.push((await call(person.caller, "/api/auth/passkeys/register/options", { body: { password: `guess ${i}` }, headers: from })).status);
    }
    expect(statuses).toEqual([403, 403, 403, 403, 403, 429, 429, 429, 429, 429]);
  });

  it("cannot flood the audit trail with wrong passwords from a session: past 20 an hour they are summed up", async () => {
    const person = await join("default", "member", root);
    const newest = () => directorySql((sql) => sql.exec<{ n: number }>("SELECT MAX(id) AS n FROM audit").one().n);
    const before = await newest();
    for (let i = 0; i < 25; i++) {
      // As if each came after the throttle had let go: the cap must hold without it.
      await directorySql((sql) => sql.exec("DELETE FROM login_throttle WHERE key IN (?, ?)", `pair:${person.email}|2001:db8:99:3::/64`, "ip:2001:db8:99:3::/64"));
      const res = await call(person.caller, "/api/auth/passkeys/register/options", { body: { password: `guess ${i}` }, headers: { "CF-Connecting-IP": `2001:db8:99:3::${(i + 1).toString(16)}` } });
      expect(res.status).toBe(403);
    }
    const added = (await expectJson(await call(root, "/api/audit?limit=100"), 200, AuditPage)).entries.filter((e) => e.id > before);
    expect(added.filter((e) => e.kind === "password")).toHaveLength(20);
    expect(added.filter((e) => e.kind === "sign_in_failed").map((e) => e.data)).toEqual([expect.objectContaining({ more: 5, from: "from 2001:db8:99:3::/64" })]);
  });

  it("cannot be added with a challenge issued before sign out everywhere ended the other ways in", async () => {
    const person = await join("default", "member", root);
    // Whoever held a session (and the password) asks for a challenge; the owner then ends every other way in.
    const thief = await signIn(person.email, PASSWORD);
    const registration = await (await SoftAuthenticator.create()).register(await registrationOptions(thief), BASE);
    expect((await call(person.caller, "/api/auth/logout-all", { body: { revokeApiKeys: true } })).status).toBe(200);
    const again = await signIn(person.email, PASSWORD);
    const late = await call(again, "/api/auth/passkeys/register/verify", { body: { name: "planted", response: registration } });
    expect((await refusal(late, 400)).code).toBe("challenge_invalid");
    expect((await expectJson(await call(again, "/api/auth/passkeys"), 200, PasskeyListResponse)).passkeys).toEqual([]);
  });

  it("are recorded when added, in the audit trail and the person's activity log", async () => {
    const { person, passkey } = await personWithPasskey();
    const audit = await expectJson(await call(root, "/api/audit?kind=passkey&limit=1"), 200, AuditPage);
    expect(audit.entries[0]).toMatchObject({ actor: person.email, message: `${person.email} added the passkey "${passkey.name}"` });
  });

  const NEW_PASSWORD = "a brand new password 99";
  for (const [label, recover, passwordAfter] of [
    [
      "a new password with the API keys revoked",
      (fresh: Caller) => call(fresh, "/api/auth/password", { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD, revokeApiKeys: true } }),
      NEW_PASSWORD,
    ],
    ["sign out everywhere with the API keys revoked", (fresh: Caller) => call(fresh, "/api/auth/logout-all", { body: { revokeApiKeys: true } }), PASSWORD],
  ] as const) {
    it(`are all removed by ${label}, so one planted with a stolen session signs nobody in`, async () => {
      const { person, authenticator } = await personWithPasskey();
      expect((await recover(await signIn(person.email, PASSWORD))).status).toBe(200);
      const me = await signIn(person.email, passwordAfter);
      expect((await expectJson(await call(me, "/api/auth/passkeys"), 200, PasskeyListResponse)).passkeys).toEqual([]);
      expect((await refusal(await signInWith(await authenticator.authenticate(await loginOptions(), BASE)), 401)).code).toBe("unknown_passkey");
      const audit = await expectJson(await call(root, "/api/audit?limit=5"), 200, AuditPage);
      expect(audit.entries.map((e) => e.message).join("\n")).toContain('1 passkeys removed ("laptop")');
    });
  }

  it("stay when the password is changed or everyone signed out without ending the other ways in", async () => {
    const { person, authenticator } = await personWithPasskey();
    const fresh = await signIn(person.email, PASSWORD);
    expect((await call(fresh, "/api/auth/password", { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })).status).toBe(200);
    expect((await call(fresh, "/api/auth/logout-all", { method: "POST" })).status).toBe(200);
    expect((await signInWith(await authenticator.authenticate(await loginOptions(), BASE))).status).toBe(200);
  });
});
