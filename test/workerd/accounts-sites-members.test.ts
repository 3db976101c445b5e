import { beforeAll, describe, expect, it } from "vitest";
import {
  AuditPage,
  CreatedInvite,
  InviteListResponse,
  MemberListResponse,
  MeResponse,
  SiteListResponse,
  SiteView,
} from "../../protocol/accounts.ts";
import { ActivityPage } from "../../protocol/api.ts";
import {
  ANONYMOUS,
  BOOTSTRAP,
  call,
  createKey,
  directorySql,
  expectJson,
  join,
  newSite,
  PASSWORD,
  refusal,
  rootSession,
  sessionCookieOf,
  signIn,
  uniqueEmail,
  type Caller,
} from "./accounts-support.ts";

let root: Caller;
beforeAll(async () => {
  root = await rootSession();
});

async function invite(site: string, by: Caller, body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const created = await expectJson(await call(by, `/api/sites/${site}/invites`, { body }), 201, CreatedInvite);
  return { id: created.invite.id, token: new URL(created.url).pathname.split("/").pop()! };
}

async function accessLog(site: string): Promise<string[]> {
  const page = await expectJson(await call(BOOTSTRAP, `/api/sites/${site}/activity?kind=access`), 200, ActivityPage);
  return page.entries.map((e) => e.message);
}

describe("sites", () => {
  it("are created by superadmins only; a taken or malformed id is refused and nothing changes", async () => {
    const created = await expectJson(await call(root, "/api/sites", { body: { id: "studio-b", name: "Studio B" } }), 201, SiteView);
    expect(created).toMatchObject({ id: "studio-b", name: "Studio B", role: "superadmin" });
    expect((await refusal(await call(root, "/api/sites", { body: { id: "studio-b", name: "Again" } }), 409)).code).toBe("site_exists");
    expect((await refusal(await call(root, "/api/sites", { body: { id: "Bad_Id", name: "x" } }), 400)).issues?.[0]?.path).toBe("id");
    const admin = await join("studio-b", "admin", root);
    expect((await refusal(await call(admin.caller, "/api/sites", { body: { id: "mine", name: "Mine" } }), 403)).message).toBe("only superadmins may create sites");
    const sites = await expectJson(await call(root, "/api/sites"), 200, SiteListResponse);
    expect(sites.sites.filter((s) => s.id === "studio-b")).toHaveLength(1);
    expect(sites.sites.some((s) => s.id === "mine")).toBe(false);
  });

  it("are listed as each caller may see them: all for superadmins, their own for others", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    const own = await expectJson(await call(member.caller, "/api/sites"), 200, SiteListResponse);
    expect(own.sites.map((s) => [s.id, s.role])).toEqual([[site, "member"]]);
    const all = await expectJson(await call(BOOTSTRAP, "/api/sites"), 200, SiteListResponse);
    expect(all.sites.map((s) => s.id)).toEqual(expect.arrayContaining(["default", site]));
    const me = await expectJson(await call(member.caller, "/api/auth/me"), 200, MeResponse);
    expect(me.memberships).toEqual([{ site, siteName: `Test site ${site}`, role: "member" }]);
  });

  it("are renamed by their admins, recorded in the site's log; members may not", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const member = await join(site, "member", root);
    expect((await refusal(await call(member.caller, `/api/sites/${site}`, { method: "PATCH", body: { name: "Mine now" } }), 403)).code).toBe("forbidden");
    const renamed = await expectJson(await call(admin.caller, `/api/sites/${site}`, { method: "PATCH", body: { name: "Stage left" } }), 200, SiteView);
    expect(renamed).toMatchObject({ id: site, name: "Stage left", role: "admin" });
    expect((await accessLog(site))[0]).toBe(`site ${site} renamed from "Test site ${site}" to "Stage left" by ${admin.email}`);
  });

  it("that do not exist answer 404 to a superadmin and 403 to everyone else, and are never created by asking", async () => {
    const admin = await join(await newSite(), "admin", root);
    expect((await refusal(await call(root, "/api/sites/no-such-site/nodes"), 404)).code).toBe("site_not_found");
    expect((await refusal(await call(BOOTSTRAP, "/api/sites/no-such-site/nodes", { body: { name: "x" } }), 404)).code).toBe("site_not_found");
    expect((await refusal(await call(admin.caller, "/api/sites/no-such-site/nodes"), 403)).code).toBe("no_site_access");
    const sites = await expectJson(await call(root, "/api/sites"), 200, SiteListResponse);
    expect(sites.sites.some((s) => s.id === "no-such-site")).toBe(false);
  });

  it("include `default` from the start, so the bootstrap key and the local node keep working", async () => {
    expect((await call(BOOTSTRAP, "/api/sites/default/nodes")).status).toBe(200);
  });
});

describe("invites", () => {
  it("work once: a new person joins with a name and password and is signed in; the replayed link is refused", async () => {
    const site = await newSite();
    const email = uniqueEmail("newcomer");
    const { token } = await invite(site, root, { email, role: "member" });
    const accepted = await call(ANONYMOUS, "/api/invites/accept", { body: { token, name: "Newcomer", password: PASSWORD } });
    const me = await expectJson(accepted, 201, MeResponse);
    expect(me.user).toMatchObject({ email, name: "Newcomer", superadmin: false });
    expect(me.memberships).toEqual([{ site, siteName: `Test site ${site}`, role: "member" }]);
    expect(sessionCookieOf(accepted)).not.toBeNull();

    const replay = await call(ANONYMOUS, "/api/invites/accept", { body: { token, name: "Mallory", password: PASSWORD, email: "mallory@example.com" } });
    expect((await refusal(replay, 410)).code).toBe("invite_used");
    expect(sessionCookieOf(replay)).toBeNull();
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: "mallory@example.com", password: PASSWORD } })).status).toBe(401);
    const members = await expectJson(await call(root, `/api/sites/${site}/members`), 200, MemberListResponse);
    expect(members.members.map((m) => m.email)).toEqual([email]);
  });

  it("are refused when expired, revoked or mistyped, and change nothing", async () => {
    const site = await newSite();
    const expired = await invite(site, root, { role: "admin", expiresInHours: 1 });
    await directorySql((sql) => sql.exec("UPDATE invites SET expires_at = ? WHERE id = ?", Date.now() - 1, expired.id));
    const late = await call(ANONYMOUS, "/api/invites/accept", { body: { token: expired.token, name: "Late", password: PASSWORD, email: uniqueEmail("late") } });
    expect((await refusal(late, 410)).code).toBe("invite_expired");

    const revoked = await invite(site, root, { role: "admin" });
    expect((await call(root, `/api/sites/${site}/invites/${revoked.id}`, { method: "DELETE" })).status).toBe(200);
    const gone = await call(ANONYMOUS, "/api/invites/accept", { body: { token: revoked.token, name: "Gone", password: PASSWORD, email: uniqueEmail("gone") } });
    expect((await refusal(gone, 404)).code).toBe("invite_not_found");

    const mistyped = await call(ANONYMOUS, "/api/invites/accept", { body: { token: "cxi_" + "a".repeat(64), name: "X", password: PASSWORD } });
    expect((await refusal(mistyped, 404)).code).toBe("invite_not_found");
    const wrongTypes = await call(ANONYMOUS, "/api/invites/accept", { body: { token: 5, password: "x" } });
    expect((await refusal(wrongTypes, 400)).issues?.map((i) => i.path).sort()).toEqual(["password", "token"]);

    const members = await expectJson(await call(root, `/api/sites/${site}/members`), 200, MemberListResponse);
    expect(members.members).toEqual([]);
  });

  it("store only a hash of the link's token and never list it", async () => {
    const site = await newSite();
    const { id, token } = await invite(site, root, { role: "member" });
    const listed = await expectJson(await call(root, `/api/sites/${site}/invites`), 200, InviteListResponse);
    expect(listed.invites.map((i) => i.id)).toEqual([id]);
    expect(JSON.stringify(listed)).not.toContain(token);
    const stored = await directorySql((sql) => JSON.stringify(sql.exec("SELECT * FROM invites").toArray()));
    expect(stored).not.toContain(token);
  });

  it("addressed to someone cannot be taken by another signed-in person; a link for anyone needs an email from a new person", async () => {
    const site = await newSite();
    const outsider = await join(await newSite(), "member", root);
    const forOther = await invite(site, root, { email: "someone.else@example.com", role: "admin" });
    const taken = await call(outsider.caller, "/api/invites/accept", { body: { token: forOther.token } });
    expect((await refusal(taken, 403)).code).toBe("invite_for_someone_else");

    const open = await invite(site, root, { role: "member" });
    const noEmail = await call(ANONYMOUS, "/api/invites/accept", { body: { token: open.token, name: "Anon", password: PASSWORD } });
    expect((await refusal(noEmail, 400)).code).toBe("email_required");
    const existing = await call(ANONYMOUS, "/api/invites/accept", { body: { token: open.token, name: "Dup", password: PASSWORD, email: outsider.email } });
    expect((await refusal(existing, 409)).code).toBe("account_exists");
    const noPassword = await call(ANONYMOUS, "/api/invites/accept", { body: { token: open.token } });
    expect((await refusal(noPassword, 400)).code).toBe("account_details_required");

    const joined = await expectJson(await call(outsider.caller, "/api/invites/accept", { body: { token: open.token } }), 200, MeResponse);
    expect(joined.memberships.map((m) => m.site)).toContain(site);
  });

  it("for a lower role never demote someone who is already an admin", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const { token } = await invite(site, root, { role: "member" });
    await expectJson(await call(admin.caller, "/api/invites/accept", { body: { token } }), 200, MeResponse);
    const members = await expectJson(await call(root, `/api/sites/${site}/members`), 200, MemberListResponse);
    expect(members.members.find((m) => m.userId === admin.userId)?.role).toBe("admin");
  });
});

describe("members", () => {
  it("take a new role on their very next request", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    const registerNode = () => call(member.caller, `/api/sites/${site}/nodes`, { body: { name: `n-${crypto.randomUUID().slice(0, 6)}` } });
    expect((await registerNode()).status).toBe(403);
    expect((await call(root, `/api/sites/${site}/members/${member.userId}`, { method: "PATCH", body: { role: "admin" } })).status).toBe(200);
    expect((await registerNode()).status).toBe(201);
    expect((await call(root, `/api/sites/${site}/members/${member.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(200);
    expect((await refusal(await registerNode(), 403)).message).toBe(`members of site ${site} may not manage nodes`);
  });

  it("removed are cut off on their next request, with their API keys", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const key = await createKey(admin.caller, "admin");
    expect((await call(key.caller, `/api/sites/${site}/nodes`)).status).toBe(200);
    const removed = await call(root, `/api/sites/${site}/members/${admin.userId}`, { method: "DELETE" });
    expect(removed.status).toBe(200);
    expect((await refusal(await call(admin.caller, `/api/sites/${site}/nodes`), 403)).code).toBe("no_site_access");
    expect((await refusal(await call(key.caller, `/api/sites/${site}/nodes`), 403)).code).toBe("no_site_access");
    expect((await refusal(await call(root, `/api/sites/${site}/members/${admin.userId}`, { method: "DELETE" }), 404)).code).toBe("member_not_found");
  });

  it("removed or demoted lose the invites they made: a link made beforehand does not let them, or anyone, back in", async () => {
    const site = await newSite();
    const rogue = await join(site, "admin", root, "rogue");
    const demoted = await join(site, "admin", root, "demoted");
    const other = await join(site, "admin", root, "other");
    const rogueLinks = [await invite(site, rogue.caller, { role: "admin", expiresInHours: 720 }), await invite(site, rogue.caller, { role: "member" })];
    const viaKey = await invite(site, (await createKey(rogue.caller, "admin")).caller, { role: "admin" });
    const demotedLink = await invite(site, demoted.caller, { role: "admin" });
    const kept = await invite(site, other.caller, { role: "member" });

    expect((await call(root, `/api/sites/${site}/members/${rogue.userId}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(root, `/api/sites/${site}/members/${demoted.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(200);
    for (const link of [...rogueLinks, viaKey]) {
      expect((await refusal(await call(rogue.caller, "/api/invites/accept", { body: { token: link.token } }), 404)).code).toBe("invite_not_found");
    }
    expect((await refusal(await call(demoted.caller, "/api/invites/accept", { body: { token: demotedLink.token } }), 404)).code).toBe("invite_not_found");
    expect((await refusal(await call(rogue.caller, `/api/sites/${site}/nodes`), 403)).code).toBe("no_site_access");
    expect((await refusal(await call(demoted.caller, `/api/sites/${site}/settings`, { method: "PATCH", body: { chatStepLimit: 3 } }), 403)).code).toBe("forbidden");
    const open = await expectJson(await call(root, `/api/sites/${site}/invites`), 200, InviteListResponse);
    expect(open.invites.filter((i) => i.acceptedAt === null).map((i) => i.id)).toEqual([kept.id]);
    expect(await accessLog(site)).toContain(`3 open invite(s) made by ${rogue.email} revoked: they may no longer invite to site ${site}`);
  });

  it("are listed for members; only admins change roles, and bad input is refused", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const member = await join(site, "member", root);
    const listed = await expectJson(await call(member.caller, `/api/sites/${site}/members`), 200, MemberListResponse);
    expect(listed.members.map((m) => [m.email, m.role])).toEqual([
      [admin.email, "admin"],
      [member.email, "member"],
    ]);
    expect((await call(member.caller, `/api/sites/${site}/members/${admin.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(403);
    expect((await refusal(await call(admin.caller, `/api/sites/${site}/members/${member.userId}`, { method: "PATCH", body: { role: "owner" } }), 400)).issues?.[0]?.path).toBe("role");
    expect((await refusal(await call(admin.caller, `/api/sites/${site}/members/not-a-user`, { method: "PATCH", body: { role: "admin" } }), 400)).code).toBe("invalid_userId");
    const after = await expectJson(await call(root, `/api/sites/${site}/members`), 200, MemberListResponse);
    expect(after.members.map((m) => m.role)).toEqual(["admin", "member"]);
  });

  it("changes, removals and invites go to the site's activity log (kind access) and to the audit trail", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    await call(root, `/api/sites/${site}/members/${member.userId}`, { method: "PATCH", body: { role: "admin" } });
    await call(root, `/api/sites/${site}/members/${member.userId}`, { method: "DELETE" });
    expect(await accessLog(site)).toEqual([
      `${member.email} removed from site ${site} by root@example.com`,
      `${member.email} is now admin of site ${site} (was member), changed by root@example.com`,
      `${member.email} accepted an invite to site ${site} as member (new account)`,
      `root@example.com invited ${member.email} to site ${site} as member`,
    ]);
    const audit = await expectJson(await call(root, `/api/audit?site=${site}`), 200, AuditPage);
    expect(audit.entries.map((e) => e.kind)).toEqual(["member", "member", "invite", "invite", "site"]);
    expect((await refusal(await call(root, "/api/audit?limit=9999"), 400)).code).toBe("invalid_query");
  });

  it("sign in again after removal and see the site gone from their account", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    await call(root, `/api/sites/${site}/members/${member.userId}`, { method: "DELETE" });
    const again = await signIn(member.email, PASSWORD);
    const me = await expectJson(await call(again, "/api/auth/me"), 200, MeResponse);
    expect(me.memberships).toEqual([]);
  });
});
