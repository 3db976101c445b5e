import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { failureSource } from "../../durable-objects/directory/audit-trail.ts";
import { AuditPage, CreatedApiKey, MeResponse } from "../../protocol/accounts.ts";
import { createApp } from "../../worker/app.ts";
import { PBKDF2_ITERATIONS } from "../../worker/auth/passwords.ts";
import {
  ANONYMOUS,
  call,
  credentialSql,
  directorySql,
  expectJson,
  join,
  PASSWORD,
  refusal,
  ROOT,
  rootSession,
  sessionCookieOf,
  signIn,
  type Caller,
} from "./accounts-support.ts";
import { ADMIN_KEY, BASE } from "./support.ts";

const SETUP_CODE = "deployed-setup-code-0123456789abcdef";

/** The app with other secrets than the test Worker's, on the same Directory. */
function appWith(secrets: { CORTEX_ADMIN_KEY?: string; CORTEX_SETUP_CODE?: string }) {
  const app = createApp();
  return (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(`${BASE}${path}`, { method: "POST", headers: { "Content-Type": "application/json", ...headers }, body: JSON.stringify(body) }, {
      ...env,
      CORTEX_ADMIN_KEY: undefined,
      CORTEX_SETUP_CODE: undefined,
      ...secrets,
    });
}

async function userCount(): Promise<number> {
  return directorySql((sql) => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM users").one().n);
}

describe("first setup", () => {
  it("is unavailable with a clear 503 when the hub has neither a setup code nor an admin key", async () => {
    const res = await appWith({})("/api/setup", { setupCode: "x", ...ROOT });
    expect((await refusal(res, 503)).code).toBe("setup_unavailable");
    expect(await userCount()).toBe(0);
  });

  it("answers a malformed body with 400 and the fields at fault, creating nobody", async () => {
    const res = await call(ANONYMOUS, "/api/setup", { body: { setupCode: ADMIN_KEY, email: "not an email", name: 7, password: "short" } });
    const error = await refusal(res, 400);
    expect(error.issues?.map((i) => i.path).sort()).toEqual(["email", "name", "password"]);
    expect(await userCount()).toBe(0);
  });

  it("refuses wrong setup codes, and slows an address down after 20 of them (429 with Retry-After)", async () => {
    const guess = appWith({ CORTEX_SETUP_CODE: SETUP_CODE });
    const from = { "CF-Connecting-IP": "203.0.113.7" };
    for (let i = 0; i < 20; i++) {
      expect((await refusal(await guess("/api/setup", { setupCode: `guess-${i}`, ...ROOT }, from), 403)).code).toBe("wrong_setup_code");
    }
    const locked = await guess("/api/setup", { setupCode: SETUP_CODE, ...ROOT }, from);
    expect((await refusal(locked, 429)).code).toBe("too_many_attempts");
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(await userCount()).toBe(0);
  });

  it("creates the first superadmin with the deployed setup code, signed in by an HttpOnly, Secure, SameSite=Strict cookie", async () => {
    const setup = appWith({ CORTEX_SETUP_CODE: SETUP_CODE });
    expect((await refusal(await setup("/api/setup", { setupCode: ADMIN_KEY, ...ROOT }), 403)).code).toBe("wrong_setup_code");
    const res = await setup("/api/setup", { setupCode: SETUP_CODE, ...ROOT });
    const me = await expectJson(res, 201, MeResponse);
    expect(me.user).toMatchObject({ email: ROOT.email, name: ROOT.name, superadmin: true });
    expect(me.memberships).toContainEqual({ site: "default", siteName: "Default", role: "superadmin" });
    const cookie = res.headers.get("Set-Cookie")!;
    expect(cookie).toMatch(/^__Host-cortex_session=cxs_[0-9a-f]{64};/);
    for (const attribute of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"]) expect(cookie).toContain(attribute);
    expect(cookie).not.toMatch(/Domain=/i);
    const session: Caller = { kind: "cookie", cookie: sessionCookieOf(res)! };
    expect((await expectJson(await call(session, "/api/auth/me"), 200, MeResponse)).user.email).toBe(ROOT.email);
    // A sibling subdomain can plant a cookie for the whole domain, but never one named __Host-: under any other name
    // (the old one included) a session token signs nobody in, so nobody can be slipped into someone else's account.
    const tossed = await SELF.fetch(`${BASE}/api/auth/me`, { headers: { Cookie: `cortex_session=${session.cookie}` } });
    expect(tossed.status).toBe(401);
  });

  it("is refused once anybody exists, whatever the code", async () => {
    const again = await call(ANONYMOUS, "/api/setup", { body: { setupCode: ADMIN_KEY, email: "intruder@example.com", name: "I", password: PASSWORD } });
    expect((await refusal(again, 409)).code).toBe("already_set_up");
    expect(await userCount()).toBe(1);
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: "intruder@example.com", password: PASSWORD } })).status).toBe(401);
  });
});

describe("password sign-in", () => {
  it("signs in with the right password and answers who it is; a wrong password or unknown email gets the same 401", async () => {
    const root = await signIn(ROOT.email, ROOT.password);
    expect((await expectJson(await call(root, "/api/auth/me"), 200, MeResponse)).credential).toEqual({ kind: "session", scope: null, keyName: null });
    const wrong = await refusal(await call(ANONYMOUS, "/api/auth/login", { body: { email: ROOT.email, password: "not the password" } }), 401);
    const unknown = await refusal(await call(ANONYMOUS, "/api/auth/login", { body: { email: "nobody@example.com", password: "not the password" } }), 401);
    expect(wrong).toEqual(unknown);
    expect(wrong.code).toBe("wrong_credentials");
  });

  it("records sign-ins and failed sign-ins in the audit trail without the password", async () => {
    const root = await signIn(ROOT.email, ROOT.password, { "CF-Connecting-IP": "198.51.100.4" });
    await call(ANONYMOUS, "/api/auth/login", { body: { email: ROOT.email, password: "hunter2 is my password" }, headers: { "CF-Connecting-IP": "198.51.100.4" } });
    const audit = await expectJson(await call(root, "/api/audit?limit=5"), 200, AuditPage);
    const [failed, signedIn] = audit.entries;
    expect(failed).toMatchObject({ kind: "sign_in_failed", actor: ROOT.email, ip: "198.51.100.4" });
    expect(signedIn).toMatchObject({ kind: "sign_in", actor: ROOT.email, ip: "198.51.100.4" });
    expect(JSON.stringify(audit)).not.toContain("hunter2");
  });

  it("stops one address guessing one account after 5 failures, even against the right password; the lock runs out", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root);
    const from = { "CF-Connecting-IP": "192.0.2.7" };
    for (let i = 0; i < 5; i++) {
      const res = await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: `wrong ${i}` }, headers: from });
      expect(res.status).toBe(401);
    }
    const locked = await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: from });
    expect((await refusal(locked, 429)).message).toMatch(/too many failed sign-ins; try again in \d+ s/);
    expect(Number(locked.headers.get("Retry-After"))).toBeGreaterThanOrEqual(29);
    expect(sessionCookieOf(locked)).toBeNull();

    await directorySql((sql) => sql.exec("UPDATE login_throttle SET locked_until = 0 WHERE key = ?", `pair:${person.email}|192.0.2.7`));
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: from })).status).toBe(200);
  });

  it("cannot be used by a stranger to lock the real user out: the right password from a clean address still signs in", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root);
    // A botnet: 40 wrong passwords from 20 addresses, two each.
    for (let i = 0; i < 40; i++) {
      const res = await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: `guess ${i}` }, headers: { "CF-Connecting-IP": `203.0.113.${i % 20}` } });
      expect([401, 429]).toContain(res.status);
    }
    const home = await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: { "CF-Connecting-IP": "198.18.0.1" } });
    expect(home.status).toBe(200);
    expect(sessionCookieOf(home)).not.toBeNull();
    // Signing in clears nothing for the attackers' addresses.
    const attacker = await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: "guess again" }, headers: { "CF-Connecting-IP": "203.0.113.3" } });
    expect(attacker.status).toBe(429);
  });

  it("slows guessing from many addresses once an account is under attack: each new address gets one free failure", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root);
    const guess = (ip: string) => call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: "not it" }, headers: { "CF-Connecting-IP": ip } });
    // Before the account counts as under attack, an address has 5 free failures.
    for (let i = 0; i < 5; i++) expect((await guess("198.51.100.50")).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await guess("198.51.100.51")).status).toBe(401);
    // Now (10 failures) each further address is stopped after its first failure.
    for (const ip of ["198.51.100.52", "198.51.100.53", "198.51.100.54"]) {
      expect((await guess(ip)).status).toBe(401);
      expect((await guess(ip)).status).toBe(429);
    }
    // The user's own clean address is not slowed at all.
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: { "CF-Connecting-IP": "198.18.0.2" } })).status).toBe(200);
  });

  it("slows down one address trying many accounts, and not the others", async () => {
    const from = { "CF-Connecting-IP": "198.51.100.200" };
    for (let i = 0; i < 20; i++) {
      await call(ANONYMOUS, "/api/auth/login", { body: { email: `spray-${i}@example.com`, password: "Winter2026!" }, headers: from });
    }
    const locked = await call(ANONYMOUS, "/api/auth/login", { body: { email: ROOT.email, password: ROOT.password }, headers: from });
    expect(locked.status).toBe(429);
    const elsewhere = await call(ANONYMOUS, "/api/auth/login", { body: { email: ROOT.email, password: ROOT.password }, headers: { "CF-Connecting-IP": "198.51.100.201" } });
    expect(elsewhere.status).toBe(200);
  });

  it("counts an IPv6 /64 as one address: rotating through its addresses buys no further guesses", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root, "v6");
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      statuses.push((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: `guess ${i}` }, headers: { "CF-Connecting-IP": `2001:db8:99:1::${(i + 1).toString(16)}` } })).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
    // Even the right password, from yet another address of the same /64.
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: { "CF-Connecting-IP": "2001:db8:99:1:ffff::1" } })).status).toBe(429);
    // Another /64 is somebody else.
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: { "CF-Connecting-IP": "2001:db8:99:2::1" } })).status).toBe(200);
  });

  it("counts guesses sent in parallel before any of them is judged", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root);
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: `guess ${i}` }, headers: { "CF-Connecting-IP": "192.0.2.100" } }),
      ),
    );
    const statuses = guesses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(7);
  });
});

describe("sessions", () => {
  it("sign-out ends the session on the hub: the same cookie is refused afterwards", async () => {
    const session = await signIn(ROOT.email, ROOT.password);
    const out = await call(session, "/api/auth/logout", { method: "POST" });
    expect(out.status).toBe(204);
    expect(out.headers.get("Set-Cookie")).toMatch(/__Host-cortex_session=;.*Max-Age=0/);
    expect((await refusal(await call(session, "/api/auth/me"), 401)).code).toBe("session_expired");
  });

  it("sign-out everywhere ends every session of the user and nobody else's", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root);
    const second = await signIn(person.email, PASSWORD);
    const done = await call(person.caller, "/api/auth/logout-all", { method: "POST" });
    expect(await done.json()).toEqual({ signedOutSessions: 2, revokedApiKeys: 0 });
    expect((await call(person.caller, "/api/auth/me")).status).toBe(401);
    expect((await call(second, "/api/auth/me")).status).toBe(401);
    expect((await call(root, "/api/auth/me")).status).toBe(200);
  });

  it("refuses a tampered or made-up cookie with 401 and clears it", async () => {
    const { cookie } = (await signIn(ROOT.email, ROOT.password)) as { cookie: string };
    const tampered = cookie.slice(0, -1) + (cookie.endsWith("0") ? "1" : "0");
    for (const bad of [tampered, "cxs_" + "0".repeat(64), "garbage", ""]) {
      const res = await call({ kind: "cookie", cookie: bad }, "/api/sites/default/nodes");
      expect((await refusal(res, 401)).code).toBe("session_expired");
      expect(res.headers.get("Set-Cookie")).toContain("Max-Age=0");
    }
  });

  it("refuses a session unused for a week, or older than a month", async () => {
    const idle = (await signIn(ROOT.email, ROOT.password)) as { kind: "cookie"; cookie: string };
    const old = (await signIn(ROOT.email, ROOT.password)) as { kind: "cookie"; cookie: string };
    const day = 24 * 3600_000;
    await credentialSql(idle.cookie, (sql, hash) => sql.exec("UPDATE credentials SET last_used_at = ? WHERE hash = ?", Date.now() - 8 * day, hash));
    await credentialSql(old.cookie, (sql, hash) => sql.exec("UPDATE credentials SET created_at = ? WHERE hash = ?", Date.now() - 31 * day, hash));
    expect((await refusal(await call(idle, "/api/auth/me"), 401)).code).toBe("session_expired");
    expect((await refusal(await call(old, "/api/auth/me"), 401)).code).toBe("session_expired");
  });

  it("refuses a change made with the session cookie from another origin, or without an Origin, and changes nothing", async () => {
    const session = (await signIn(ROOT.email, ROOT.password)) as { kind: "cookie"; cookie: string };
    const body = { name: "sneaky", scope: "admin" };
    const foreign = await call(session, "/api/auth/api-keys", { body, headers: { Origin: "https://evil.example" } });
    expect((await refusal(foreign, 403)).code).toBe("cross_origin");
    const bare = await postWithoutOrigin(session.cookie, "/api/auth/api-keys", body);
    expect((await refusal(bare, 403)).code).toBe("origin_required");
    const keys = (await (await call(session, "/api/auth/api-keys")).json()) as { apiKeys: unknown[] };
    expect(keys.apiKeys).toEqual([]);
    const forgedLogin = await call(ANONYMOUS, "/api/auth/login", { body: { email: ROOT.email, password: ROOT.password }, headers: { Origin: "https://evil.example" } });
    expect((await refusal(forgedLogin, 403)).code).toBe("cross_origin");
    expect(sessionCookieOf(forgedLogin)).toBeNull();
  });

  it("lets a program with an API key change things without an Origin", async () => {
    const root = await rootSession();
    const key = await expectJson(await call(root, "/api/auth/api-keys", { body: { name: "ci", scope: "admin" } }), 201, CreatedApiKey);
    const res = await call({ kind: "bearer", key: key.key }, "/api/sites/default/nodes", { body: { name: "from-ci" } });
    expect(res.status).toBe(201);
  });
});

describe("passwords", () => {
  it("changes the password only with the current one, and signs out the user's other sessions", async () => {
    const root = await rootSession();
    const person = await join("default", "member", root);
    const other = await signIn(person.email, PASSWORD);
    const wrong = await call(person.caller, "/api/auth/password", { body: { currentPassword: "not it at all", newPassword: "a brand new password" } });
    expect((await refusal(wrong, 403)).code).toBe("wrong_password");
    const weak = await call(person.caller, "/api/auth/password", { body: { currentPassword: PASSWORD, newPassword: "short" } });
    expect((await refusal(weak, 400)).issues?.[0]?.path).toBe("newPassword");
    const changed = await call(person.caller, "/api/auth/password", { body: { currentPassword: PASSWORD, newPassword: "a brand new password" } });
    expect(await changed.json()).toEqual({ signedOutSessions: 1, revokedApiKeys: 0 });
    expect((await call(person.caller, "/api/auth/me")).status).toBe(200);
    expect((await call(other, "/api/auth/me")).status).toBe(401);
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD } })).status).toBe(401);
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: "a brand new password" } })).status).toBe(200);
  });

  it("stores passwords only as PBKDF2-SHA256 at 100,000 iterations with a salt of their own", async () => {
    const root = await rootSession();
    await join("default", "member", root);
    await join("default", "member", root);
    const hashes = await directorySql((sql) => sql.exec<{ h: string }>("SELECT password_hash AS h FROM users ORDER BY created_at DESC LIMIT 2").toArray().map((r) => r.h));
    expect(PBKDF2_ITERATIONS).toBe(100_000);
    for (const hash of hashes) expect(hash).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    // Same password, different salts, different hashes.
    expect(hashes[0]).not.toBe(hashes[1]);
    const everything = await directorySql((sql) => JSON.stringify(sql.exec("SELECT * FROM users").toArray()) + JSON.stringify(sql.exec("SELECT * FROM audit").toArray()));
    expect(everything).not.toContain(PASSWORD);
  });
});

describe("bad input", () => {
  it("refuses oversize bodies with 413 on every account route, changing nothing", async () => {
    const root = await rootSession();
    const huge = { name: "x".repeat(2 * 1024 * 1024), scope: "read" };
    for (const [caller, path] of [
      [ANONYMOUS, "/api/auth/login"],
      [ANONYMOUS, "/api/setup"],
      [ANONYMOUS, "/api/invites/accept"],
      [root, "/api/auth/api-keys"],
      [root, "/api/sites"],
    ] as const) {
      expect((await refusal(await call(caller, path, { body: huge }), 413)).code, path).toBe("body_too_large");
    }
    const keys = (await (await call(root, "/api/auth/api-keys")).json()) as { apiKeys: { name: string }[] };
    expect(keys.apiKeys.some((k) => k.name.length > 100)).toBe(false);
  });

  it("answers malformed JSON with 400 on account routes", async () => {
    const res = await call(ANONYMOUS, "/api/auth/login", { body: "{email:", headers: { "Content-Type": "application/json" } });
    expect((await refusal(res, 400)).code).toBe("invalid_json");
  });
});

/** A cookie-authenticated POST that sends no Origin header at all. */
function postWithoutOrigin(cookie: string, path: string, body: unknown): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { method: "POST", headers: { Cookie: `__Host-cortex_session=${cookie}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

describe("what anonymous attempts leave behind", () => {
  const throttleRows = (prefix: string) =>
    directorySql((sql) => sql.exec<{ key: string }>("SELECT key FROM login_throttle WHERE key LIKE ?", `${prefix}%`).toArray().map((r) => r.key));

  it("keeps no account-wide count for a made-up email, yet locks and slows it exactly like a real account", async () => {
    const ghost = `nobody-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const guess = (ip: string) => call(ANONYMOUS, "/api/auth/login", { body: { email: ghost, password: "not it" }, headers: { "CF-Connecting-IP": ip } });
    for (let i = 0; i < 5; i++) expect((await guess("198.51.100.150")).status).toBe(401);
    expect((await guess("198.51.100.150")).status).toBe(429);
    for (let i = 0; i < 5; i++) expect((await guess("198.51.100.151")).status).toBe(401);
    // 10 failures: the made-up email is "under attack" like a real one, one free failure per new address.
    expect((await guess("198.51.100.152")).status).toBe(401);
    expect((await guess("198.51.100.152")).status).toBe(429);
    expect(await throttleRows(`account:${ghost}`)).toEqual([]);
    expect((await throttleRows(`pair:${ghost}|`)).length).toBe(3);
  });

  /**
   * Both emails see the same timeline: 10 failures from two addresses a day and a minute ago, one from a third an
   * hour ago, then a fresh address guesses twice. A real account once kept an account-wide count that remembered the
   * old failures while its pairs forgot them, and answered this 429 where a made-up email got 401.
   */
  it("answers a real account and a made-up email alike after the same failures: nothing tells who has an account", async () => {
    const probe = async (email: string, prefix: string): Promise<number[]> => {
      const guess = (password: string, ip: string) => call(ANONYMOUS, "/api/auth/login", { body: { email, password }, headers: { "CF-Connecting-IP": ip } });
      for (const a of ["1", "2"]) for (let i = 0; i < 5; i++) expect((await guess(`wrong ${i}`, `${prefix}.${a}`)).status).toBe(401);
      expect((await guess("wrong x", `${prefix}.3`)).status).toBe(401);
      const now = Date.now();
      await directorySql((sql) => {
        const age = (at: number, keys: string[]) => {
          for (const key of keys) sql.exec("UPDATE login_throttle SET last_failure_at = ?, locked_until = 0 WHERE key = ?", at, key);
        };
        for (const a of ["1", "2"]) age(now - 24 * 3600_000 - 60_000, [`pair:${email}|${prefix}.${a}`, `ip:${prefix}.${a}`]);
        age(now - 3600_000, [`pair:${email}|${prefix}.3`, `ip:${prefix}.3`]);
      });
      return [(await guess("probe 1", `${prefix}.4`)).status, (await guess("probe 2", `${prefix}.4`)).status];
    };
    const root = await rootSession();
    const real = await join("default", "member", root, "enum");
    const ghost = `ghost-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const realAnswers = await probe(real.email, "198.51.100");
    expect(realAnswers).toEqual(await probe(ghost, "203.0.113"));
    expect(await throttleRows(`account:${real.email}`)).toEqual([]);
  });

  it("prunes rows whose count is forgotten (a quiet day) as new attempts come in", async () => {
    const dayAgo = Date.now() - 24 * 3600_000 - 1;
    await directorySql((sql) => {
      for (let i = 0; i < 5; i++) {
        sql.exec("INSERT INTO login_throttle (key, failures, last_failure_at, locked_until) VALUES (?, 3, ?, ?)", `pair:stale-${i}@example.com|192.0.2.1`, dayAgo, dayAgo);
      }
    });
    await call(ANONYMOUS, "/api/auth/login", { body: { email: "someone@example.com", password: "not it" }, headers: { "CF-Connecting-IP": "198.51.100.160" } });
    expect(await throttleRows("pair:stale-")).toEqual([]);
  });

  it("writes 20 failed sign-ins an hour from one source (an IPv6 /64 counts as one), then sums the rest up in one entry", async () => {
    const root = await rootSession();
    const before = await directorySql((sql) => sql.exec<{ n: number }>("SELECT MAX(id) AS n FROM audit").one().n);
    for (let i = 0; i < 30; i++) {
      // The throttle stops the /64 after 20 failures; forgetting them lets this test the audit trail alone.
      await directorySql((sql) => sql.exec("DELETE FROM login_throttle WHERE key = ?", "ip:2001:db8:0:7::/64"));
      const res = await call(ANONYMOUS, "/api/auth/login", {
        body: { email: `flood-${i}@example.com`, password: "x".repeat(12) },
        headers: { "CF-Connecting-IP": `2001:db8:0:7::${(i + 1).toString(16)}` },
      });
      expect(res.status).toBe(401);
    }
    const audit = await expectJson(await call(root, "/api/audit?kind=sign_in_failed&limit=100"), 200, AuditPage);
    const added = audit.entries.filter((e) => e.id > before);
    expect(added.length).toBe(21);
    const summary = added.find((e) => e.data !== null)!;
    expect(summary.data).toMatchObject({ more: 10, from: "from 2001:db8:0:7::/64" });
    expect(summary.message).toMatch(/^10 more failed sign-ins from 2001:db8:0:7::\/64 in the hour from .*, counted here instead of one entry each$/);
    // Another source still gets its failures written one by one.
    await call(ANONYMOUS, "/api/auth/login", { body: { email: "flood-x@example.com", password: "x".repeat(12) }, headers: { "CF-Connecting-IP": "2001:db8:0:8::1" } });
    const next = await expectJson(await call(root, "/api/audit?kind=sign_in_failed&limit=1"), 200, AuditPage);
    expect(next.entries[0]).toMatchObject({ ip: "2001:db8:0:8::1", message: "failed sign-in as flood-x@example.com: wrong email or password" });
  });

  it("writes a failed sign-in against an account in full, with its email and address, even past the hour's cap", async () => {
    const root = await rootSession();
    const victim = await join("default", "member", root, "targeted");
    const hour = Math.floor(Date.now() / 3600_000);
    const counted = () => directorySql((sql) => sql.exec<{ count: number }>("SELECT count FROM audit_failures WHERE hour = ? AND source = '*'", hour).toArray()[0]?.count ?? 0);
    const before = await counted();
    // What 500 failed sign-ins from many sources this hour leave behind.
    await directorySql((sql) => sql.exec("INSERT INTO audit_failures (hour, source, count) VALUES (?, '*', 500) ON CONFLICT (hour, source) DO UPDATE SET count = 500", hour));
    try {
      const guess = (email: string, ip: string) => call(ANONYMOUS, "/api/auth/login", { body: { email, password: "targeted guess" }, headers: { "CF-Connecting-IP": ip } });
      expect((await guess(victim.email, "192.0.2.222")).status).toBe(401);
      const latest = async () => (await expectJson(await call(root, "/api/audit?kind=sign_in_failed&limit=1"), 200, AuditPage)).entries[0];
      expect(await latest()).toMatchObject({ actor: victim.email, ip: "192.0.2.222", message: `failed sign-in as ${victim.email}: wrong email or password` });
      // A made-up email stays under the hour's cap: it is only counted.
      expect((await guess(`nobody-${crypto.randomUUID().slice(0, 8)}@example.com`, "192.0.2.223")).status).toBe(401);
      expect(await latest()).toMatchObject({ actor: null, ip: null, data: { from: "from any address" } });
    } finally {
      await directorySql((sql) => sql.exec("UPDATE audit_failures SET count = ? WHERE hour = ? AND source = '*'", before, hour));
    }
  });
});

describe("an address the hub cannot read", () => {
  it("is counted as one source, never crashing a failed sign-in", async () => {
    for (const odd of ["1::2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::1", "g::1", "1.2.3.256", "::ffff:1.2.3", "not an address", "1.2.3.4%eth0"]) {
      expect(failureSource(odd)).toBe("malformed");
    }
    expect(failureSource("2001:DB8:0:7:1:2:3:4")).toBe("2001:db8:0:7::/64");
    expect(failureSource("2001:db8::1%eth0")).toBe("2001:db8:0:0::/64");
    expect(failureSource("1:2:3:4:5:6:7::")).toBe("1:2:3:4::/64");
    expect(failureSource("::ffff:192.0.2.9")).toBe("192.0.2.9");
    expect(failureSource("::ffff:c000:209")).toBe("192.0.2.9");
    expect(failureSource(null)).toBe("unknown");

    const root = await rootSession();
    const res = await call(ANONYMOUS, "/api/auth/login", { body: { email: "someone-odd@example.com", password: "not it" }, headers: { "CF-Connecting-IP": "1::2:3:4:5:6:7:8:9" } });
    expect((await refusal(res, 401)).code).toBe("wrong_credentials");
    const audit = await expectJson(await call(root, "/api/audit?kind=sign_in_failed&limit=1"), 200, AuditPage);
    expect(audit.entries[0]).toMatchObject({ actor: "someone-odd@example.com", ip: "1::2:3:4:5:6:7:8:9" });
    expect(await directorySql((sql) => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM login_throttle WHERE key = 'ip:malformed'").one().n)).toBe(1);
  });
});
