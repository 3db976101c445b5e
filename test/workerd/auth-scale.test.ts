import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DIRECTORY_NAME, type Directory } from "../../durable-objects/directory/directory.ts";
import { sha256Hex } from "../../durable-objects/shared/secrets.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import type { Env } from "../../worker/env.ts";
import { createApp } from "../../worker/app.ts";
import { call, createKey, credentialSql, directorySql, join, newSite, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";
import { ADMIN_KEY, BASE } from "./support.ts";

/**
 * Authentication that scales out: a request is authenticated against the shard of its credential and authorised
 * against its site's SiteHub, never against the one Directory of the hub; what ends or changes access still acts
 * on the caller's next request; and what the Directory held before is moved over without signing anyone out.
 */

const TEAM = "scale-test.cloudflareaccess.com";
const AUD = "scale-test-aud";
let signingKey: CryptoKey;
let publicJwk: JWK;
let root: Caller;
let site: string;
let member: Person;
let admin: Person;

beforeAll(async () => {
  root = await rootSession();
  site = await newSite();
  member = await join(site, "member", root);
  admin = await join(site, "admin", root);
  const pair = await generateKeyPair("RS256");
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256" };
});

/** The hub with a Directory that fails the test if anything asks it anything. */
function hubWithoutDirectory() {
  const refuse = () => {
    throw new Error("the Directory was asked during an ordinary request");
  };
  const directory = { idFromName: refuse, idFromString: refuse, newUniqueId: refuse, get: refuse, getByName: refuse, jurisdiction: refuse };
  const app = createApp({ accessKeys: () => createLocalJWKSet({ keys: [publicJwk] }) });
  const bindings: Env = { ...env, DIRECTORY: directory as unknown as Env["DIRECTORY"], CF_ACCESS_TEAM_DOMAIN: TEAM, CF_ACCESS_AUD: AUD };
  return (path: string, headers: Record<string, string>, init: { method?: string; body?: unknown } = {}) =>
    app.request(
      `${BASE}${path}`,
      { method: init.method ?? "GET", headers: { ...headers, ...(init.body ? { "Content-Type": "application/json", Origin: BASE } : {}) }, body: init.body ? JSON.stringify(init.body) : undefined },
      bindings,
    );
}

function ssoToken(email: string): Promise<string> {
  return new SignJWT({ email }).setProtectedHeader({ alg: "RS256", kid: "k1" }).setIssuer(`https://${TEAM}`).setAudience(AUD).setIssuedAt().setExpirationTime("10m").sign(signingKey);
}

describe("no request's authentication goes through the Directory", () => {
  it("API keys, sessions, single sign-on and the admin key are all checked without it, and so are refusals", async () => {
    const hub = hubWithoutDirectory();
    const key = await createKey(member.caller, "read");
    const cookie = (member.caller as { cookie: string }).cookie;
    const asKey = { Authorization: `Bearer ${key.key}` };
    const asSession = { Cookie: `__Host-cortex_session=${cookie}` };
    const asSso = { "Cf-Access-Jwt-Assertion": await ssoToken(member.email) };

    for (const headers of [asKey, asSession, asSso, { Authorization: `Bearer ${ADMIN_KEY}` }]) {
      expect((await hub(`/api/sites/${site}/settings`, headers)).status).toBe(200);
      expect((await hub(`/api/sites/${site}/directives`, headers)).status).toBe(200);
    }
    // A member's role is read from the site: no shell, and no settings change.
    expect((await hub(`/api/sites/${site}/settings`, asSession, { method: "PATCH", body: { readablePaths: ["/"] } })).status).toBe(403);
    // Refusals too: a key that does not exist, a site the caller is not on, a site that does not exist.
    expect((await hub(`/api/sites/${site}/settings`, { Authorization: "Bearer cxk_unknown" })).status).toBe(401);
    const elsewhere = await newSite();
    expect((await hub(`/api/sites/${elsewhere}/settings`, asKey)).status).toBe(403);
    expect((await hub("/api/sites/no-such-site-here/settings", { Authorization: `Bearer ${ADMIN_KEY}` })).status).toBe(404);
  });
});

describe("changes to access act on the next request", () => {
  it("a role change, a removal, a revoked key and a signed-out session", async () => {
    const person = await join(site, "admin", root);
    const key = await createKey(person.caller, "admin");
    const patch = { method: "PATCH", body: { readablePaths: ["sandbox", "/var/log"] } };
    expect((await call(key.caller, `/api/sites/${site}/settings`, patch)).status).toBe(200);

    await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "PATCH", body: { role: "member" } });
    expect((await refusal(await call(key.caller, `/api/sites/${site}/settings`, patch), 403)).code).toBe("forbidden");
    expect((await call(person.caller, `/api/sites/${site}/settings`)).status).toBe(200);

    await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "DELETE" });
    expect((await refusal(await call(person.caller, `/api/sites/${site}/settings`), 403)).code).toBe("no_site_access");
    expect((await refusal(await call(key.caller, `/api/sites/${site}/settings`), 403)).code).toBe("no_site_access");

    await call(person.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" });
    expect((await refusal(await call(key.caller, "/api/auth/me"), 401)).code).toBe("invalid_api_key");

    await call(person.caller, "/api/auth/logout", { method: "POST" });
    expect((await refusal(await call(person.caller, "/api/auth/me"), 401)).code).toBe("session_expired");
  });
});

/** How many rows of each moved table the Directory still has to move. */
function leftToMove(): Promise<number[]> {
  return directorySql((sql) => ["sessions", "api_keys", "users", "sites"].map((t) => sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t} WHERE moved = 0`).one().n));
}

/**
 * Runs the Directory's background move, as an upgraded hub schedules it when it starts with rows left to move, and
 * waits until it has finished (the runtime may already be running it by itself).
 */
async function moveNow(directory: DurableObjectStub<Directory>): Promise<void> {
  await runInDurableObject(directory, (_d: Directory, state) => state.storage.setAlarm(Date.now()));
  await runDurableObjectAlarm(directory);
  for (let i = 0; i < 100 && (await leftToMove()).some((n) => n > 0); i++) await new Promise((r) => setTimeout(r, 50));
}

describe("moving what the Directory held before the shards", () => {
  const day = 24 * 3600_000;

  /** A person, a session and an API key as the Directory stored them before, with a site and its membership. */
  async function legacyPerson(label: string) {
    const id = `u-${crypto.randomUUID()}`;
    const email = `${label}-${crypto.randomUUID().slice(0, 6)}@example.com`;
    const token = `cxs_${crypto.randomUUID().replaceAll("-", "")}${crypto.randomUUID().replaceAll("-", "")}`;
    const key = `cxk_${crypto.randomUUID().replaceAll("-", "")}${crypto.randomUUID().replaceAll("-", "")}`;
    const legacySite = `legacy-${crypto.randomUUID().slice(0, 8)}`;
    const now = Date.now();
    const [tokenHash, keyHash] = [await sha256Hex(token), await sha256Hex(key)];
    await directorySql((sql) => {
      sql.exec("INSERT INTO users (id, email, name, superadmin, password_hash, created_at, moved) VALUES (?, ?, ?, 0, NULL, ?, 0)", id, email, label, now - day);
      sql.exec("INSERT INTO sessions (id, token_hash, user_id, created_at, last_used_at, moved) VALUES (?, ?, ?, ?, ?, 0)", `s-${crypto.randomUUID()}`, tokenHash, id, now - day, now - day);
      sql.exec(
        "INSERT INTO api_keys (id, key_hash, user_id, name, scope, prefix, created_at, moved) VALUES (?, ?, ?, 'old key', 'read', ?, ?, 0)",
        `k-${crypto.randomUUID()}`,
        keyHash,
        id,
        key.slice(0, 12),
        now - day,
      );
      sql.exec("INSERT INTO sites (id, name, created_at, moved) VALUES (?, 'Legacy', ?, 0)", legacySite, now - day);
      sql.exec("INSERT INTO memberships (site_id, user_id, role, added_at) VALUES (?, ?, 'admin', ?)", legacySite, id, now - day);
    });
    // The shards these land in have not heard yet that everything was moved.
    for (const secret of [token, key]) await credentialSql(secret, (sql) => sql.exec("DELETE FROM shard_state"));
    await credentialSql(`sso:${email}`, (sql) => sql.exec("DELETE FROM shard_state"));
    return { id, email, token, key, site: legacySite, session: { kind: "cookie", cookie: token } as Caller, apiKey: { kind: "bearer", key } as Caller };
  }

  /** Makes a site's object look like one whose storage predates sites keeping their own members. */
  async function predating(siteId: string): Promise<void> {
    const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(siteId));
    // Through the object's own storage, which an object from before had created: its tables exist.
    await runInDurableObject(stub, (hub: SiteHub) => hub["storage"].sql.exec("INSERT OR REPLACE INTO site_access_state (name, value) VALUES ('pending', '1')"));
  }

  it("a person signed in before keeps working on their first request, with their key, their role and single sign-on", async () => {
    const old = await legacyPerson("before");
    await predating(old.site);
    const me = await call(old.session, "/api/auth/me");
    expect(me.status).toBe(200);
    // An admin of the old site, as the Directory had it: may change its settings.
    expect((await call(old.session, `/api/sites/${old.site}/settings`, { method: "PATCH", body: { readablePaths: ["/var/log"] } })).status).toBe(200);
    expect((await call(old.apiKey, `/api/sites/${old.site}/settings`)).status).toBe(200);
    const sso = await hubWithoutDirectory()(`/api/sites/${old.site}/settings`, { "Cf-Access-Jwt-Assertion": await ssoToken(old.email) });
    expect(sso.status).toBe(200);
  });

  it("the background move copies everything over, after which no request needs the Directory", async () => {
    const old = await legacyPerson("moved");
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
    await moveNow(directory);
    expect(await leftToMove()).toEqual([0, 0, 0, 0]);
    const hub = hubWithoutDirectory();
    expect((await hub(`/api/sites/${old.site}/settings`, { Cookie: `__Host-cortex_session=${old.token}` })).status).toBe(200);
    expect((await hub(`/api/sites/${old.site}/settings`, { Authorization: `Bearer ${old.key}` })).status).toBe(200);
  });

  it("a session ended before it was moved stays ended, whichever way the move goes", async () => {
    const old = await legacyPerson("ended");
    const directory = env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
    // "Sign out everywhere" reaches the old session before anything moved it: its shard keeps it as ended.
    expect(await directory.signOutEverywhere(old.id, false, { actor: "test", ip: null })).toEqual({ signedOutSessions: 1, revokedApiKeys: 0 });
    await moveNow(directory);
    expect((await refusal(await call(old.session, "/api/auth/me"), 401)).code).toBe("session_expired");
    expect((await call(old.apiKey, "/api/auth/me")).status).toBe(200);
  });
});
