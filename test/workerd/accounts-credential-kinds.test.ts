import { beforeAll, describe, expect, it } from "vitest";
import { MeResponse, SiteListResponse } from "../../protocol/accounts.ts";
import { ANONYMOUS, call, createKey, directorySql, expectJson, join, newSite, refusal, ROOT, rootSession, type Caller } from "./accounts-support.ts";

/**
 * A credential holds only through the channel of its kind: a session as the cookie, an API key as Bearer, a single
 * sign-on identity only from a verified Access token. Each shard row is found by hash alone, and the hash of a single
 * sign-on identity is the hash of `sso:<email>`, text anyone can write.
 */
let root: Caller;
beforeAll(async () => {
  root = await rootSession();
});

describe("a credential presented as another kind", () => {
  it("'sso:<email>' as the session cookie or as a Bearer key signs nobody in, and creates nothing", async () => {
    for (const forged of [{ kind: "cookie", cookie: `sso:${ROOT.email}` }, { kind: "bearer", key: `sso:${ROOT.email}` }] satisfies Caller[]) {
      expect((await refusal(await call(forged, "/api/auth/me"), 401)).code).toMatch(/^(session_expired|invalid_api_key)$/);
      const site = `forged-${crypto.randomUUID().slice(0, 6)}`;
      expect((await call(forged, "/api/sites", { body: { id: site, name: "made by a stranger" } })).status).toBe(401);
      expect((await call(forged, "/api/audit?limit=1")).status).toBe(401);
      expect((await call(forged, "/api/auth/api-keys", { body: { name: "persistence", scope: "admin" } })).status).toBe(401);
      const sites = await expectJson(await call(root, "/api/sites"), 200, SiteListResponse);
      expect(sites.sites.map((s) => s.id)).not.toContain(site);
    }
    expect((await expectJson(await call(root, "/api/auth/me"), 200, MeResponse)).user.email).toBe(ROOT.email);
  });

  it("an API key as the session cookie is refused: a read key never gets its owner's session rights", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const read = await createKey(admin.caller, "read");
    const asCookie: Caller = { kind: "cookie", cookie: read.key };
    const invitesBefore = await directorySql((sql) => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM invites").one().n);
    expect((await call(asCookie, `/api/sites/${site}/invites`, { body: { role: "admin" } })).status).toBe(401);
    expect((await call(asCookie, "/api/auth/api-keys", { body: { name: "escalated", scope: "admin" } })).status).toBe(401);
    expect((await call(asCookie, "/api/auth/me")).status).toBe(401);
    expect(await directorySql((sql) => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM invites").one().n)).toBe(invitesBefore);
    // The key itself still works where it belongs, within its scope.
    expect((await call(read.caller, `/api/sites/${site}/nodes`)).status).toBe(200);
    expect((await call(read.caller, `/api/sites/${site}/invites`, { body: { role: "admin" } })).status).toBe(403);
  });

  it("a session token as a Bearer key is a 401, not a crash, and the session still works as the cookie", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    const token = (member.caller as { kind: "cookie"; cookie: string }).cookie;
    const asBearer: Caller = { kind: "bearer", key: token };
    expect((await refusal(await call(asBearer, `/api/sites/${site}/nodes`), 401)).code).toBe("invalid_api_key");
    expect((await call(asBearer, "/api/auth/me")).status).toBe(401);
    expect((await call(member.caller, `/api/sites/${site}/nodes`)).status).toBe(200);
    expect((await call(ANONYMOUS, `/api/sites/${site}/nodes`)).status).toBe(401);
  });
});
