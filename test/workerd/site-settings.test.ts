import { beforeAll, describe, expect, it } from "vitest";
import { ActivityPage } from "../../protocol/api.ts";
import { DEFAULT_SITE_SETTINGS, SiteSettingsResponse } from "../../protocol/site-settings.ts";
import { call, createKey, expectJson, join, newSite, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";

let site: string;
let admin: Person;
let member: Person;

beforeAll(async () => {
  const root = await rootSession();
  site = await newSite();
  admin = await join(site, "admin", root);
  member = await join(site, "member", root);
});

async function settingsAs(caller: Caller) {
  return (await expectJson(await call(caller, `/api/sites/${site}/settings`), 200, SiteSettingsResponse)).settings;
}

async function settingsActivity(caller: Caller) {
  const page = await expectJson(await call(caller, `/api/sites/${site}/activity?kind=settings`), 200, ActivityPage);
  return page.entries;
}

describe("site settings", () => {
  it("start at their defaults, which every member may read", async () => {
    const fresh = await newSite();
    const root = await rootSession();
    const reader = await join(fresh, "member", root);
    const res = await call(reader.caller, `/api/sites/${fresh}/settings`);
    expect((await expectJson(res, 200, SiteSettingsResponse)).settings).toEqual(DEFAULT_SITE_SETTINGS);
    expect(DEFAULT_SITE_SETTINGS.readablePaths).toEqual(["sandbox", "/var/log"]);
  });

  it("change by a partial PATCH from an admin, normalised, and the change is in the activity log", async () => {
    const res = await call(admin.caller, `/api/sites/${site}/settings`, {
      method: "PATCH",
      body: { readablePaths: ["sandbox", "/srv/logs/", "/srv//data", "/srv/logs"] },
    });
    const { settings } = await expectJson(res, 200, SiteSettingsResponse);
    expect(settings.readablePaths).toEqual(["sandbox", "/srv/logs", "/srv/data"]);
    expect((await settingsAs(member.caller)).readablePaths).toEqual(["sandbox", "/srv/logs", "/srv/data"]);

    const entries = await settingsActivity(member.caller);
    expect(entries[0]).toMatchObject({ kind: "settings", actor: admin.email, data: { setting: "readablePaths", to: ["sandbox", "/srv/logs", "/srv/data"] } });

    // The same value again changes nothing and records nothing.
    await expectJson(await call(admin.caller, `/api/sites/${site}/settings`, { method: "PATCH", body: { readablePaths: ["sandbox", "/srv/logs", "/srv/data"] } }), 200, SiteSettingsResponse);
    expect((await settingsActivity(member.caller)).length).toBe(entries.length);
  });

  it.each([
    ["an unknown setting", { readablePaths: ["/var/log"], maxTier: 3 }],
    ["no setting at all", {}],
    ["a relative path", { readablePaths: ["var/log"] }],
    ["a path with ..", { readablePaths: ["/var/log/../../etc"] }],
    ["a path with .", { readablePaths: ["/var/./log"] }],
    ["a NUL byte", { readablePaths: ["/var/log\u0000/x"] }],
    ["a word other than sandbox", { readablePaths: ["home"] }],
    ["not a list", { readablePaths: "/var/log" }],
    ["too many paths", { readablePaths: Array.from({ length: 33 }, (_, i) => `/p${i}`) }],
    ["a path too long", { readablePaths: [`/${"a".repeat(5000)}`] }],
    ["a body that is not an object", ["/var/log"]],
  ])("refuse %s with 400 and change nothing", async (_what, body) => {
    const before = await settingsAs(admin.caller);
    const activity = (await settingsActivity(admin.caller)).length;
    const error = await refusal(await call(admin.caller, `/api/sites/${site}/settings`, { method: "PATCH", body }), 400);
    expect(error.code).toBe("invalid_body");
    expect(await settingsAs(admin.caller)).toEqual(before);
    expect((await settingsActivity(admin.caller)).length).toBe(activity);
  });

  it("cannot be changed by a member, a read or chat key, or an admin key of a member", async () => {
    const before = await settingsAs(admin.caller);
    const body = { readablePaths: ["/"] };
    const callers: Caller[] = [
      member.caller,
      (await createKey(admin.caller, "read")).caller,
      (await createKey(admin.caller, "chat")).caller,
      (await createKey(member.caller, "admin")).caller,
    ];
    for (const caller of callers) {
      await refusal(await call(caller, `/api/sites/${site}/settings`, { method: "PATCH", body }), 403);
    }
    expect(await settingsAs(admin.caller)).toEqual(before);
  });

  it("belong to their own site: changing one site's leaves another's alone", async () => {
    const root = await rootSession();
    const other = await newSite();
    await expectJson(await call(root, `/api/sites/${other}/settings`, { method: "PATCH", body: { readablePaths: ["/opt/app/logs"] } }), 200, SiteSettingsResponse);
    const mine = await settingsAs(admin.caller);
    expect(mine.readablePaths).not.toContain("/opt/app/logs");
    await refusal(await call(admin.caller, `/api/sites/${other}/settings`), 403);
  });
});
