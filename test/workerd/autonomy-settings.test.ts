import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ActivityPage } from "../../protocol/api.ts";
import { DEFAULT_AUTONOMY_DIRECTIVE } from "../../protocol/autonomy.ts";
import { SiteSettingsResponse, type SiteSettingsPatch } from "../../protocol/site-settings.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { BOOTSTRAP, call, createKey, expectJson, join, newSite, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";
import { hubObject } from "./autonomy-support.ts";

let site: string;
let admin: Person;
let member: Person;

beforeAll(async () => {
  const root = await rootSession();
  site = await newSite();
  admin = await join(site, "admin", root);
  member = await join(site, "member", root);
});

async function read(caller: Caller): Promise<SiteSettingsResponse> {
  return expectJson(await call(caller, `/api/sites/${site}/settings`), 200, SiteSettingsResponse);
}

function patch(caller: Caller, body: unknown): Promise<Response> {
  return call(caller, `/api/sites/${site}/settings`, { method: "PATCH", body });
}

/** One valid change of every autonomy setting, away from its default. */
const EVERY_FIELD: SiteSettingsPatch[] = [
  { autonomyEnabled: true },
  { autonomyDirective: "Only look; never restart anything." },
  { autonomyMaxTier: 3 },
  { autonomyModel: "claude-haiku-4-5" },
  { autonomyCooldownMinutes: 60 },
  { autonomyMaxActive: 7 },
  { autonomyStepLimit: 30 },
  { escalationEmails: ["ops@example.com"] },
  { escalationWebhookUrl: "https://hooks.slack.com/services/T000/B000/secretpart" },
];

describe("autonomy settings", () => {
  it("start off, at tier 2, with the documented defaults", async () => {
    const fresh = await newSite();
    const res = await expectJson(await call(BOOTSTRAP, `/api/sites/${fresh}/settings`), 200, SiteSettingsResponse);
    expect(res.settings).toMatchObject({
      autonomyEnabled: false,
      autonomyDirective: DEFAULT_AUTONOMY_DIRECTIVE,
      autonomyMaxTier: 2,
      autonomyModel: null,
      autonomyCooldownMinutes: 15,
      autonomyMaxActive: 3,
      autonomyStepLimit: 15,
      escalationEmails: [],
      escalationWebhookUrl: null,
    });
    expect(DEFAULT_AUTONOMY_DIRECTIVE).toMatch(/restart.*Escalate/s);
  });

  it("a member, and an admin's read or chat key, can change none of them", async () => {
    const before = await read(BOOTSTRAP);
    const readKey = (await createKey(admin.caller, "read")).caller;
    const chatKey = (await createKey(admin.caller, "chat")).caller;
    const memberAdminKey = (await createKey(member.caller, "admin")).caller;
    for (const change of EVERY_FIELD) {
      for (const [who, caller] of [["member", member.caller], ["read key", readKey], ["chat key", chatKey], ["member's admin key", memberAdminKey]] as const) {
        expect((await patch(caller, change)).status, `${who}: ${Object.keys(change)[0]}`).toBe(403);
      }
    }
    expect(await read(BOOTSTRAP)).toEqual(before);
  });

  it("a site admin changes each of them, and each change is in the activity log", async () => {
    for (const change of EVERY_FIELD) {
      const res = await expectJson(await patch(admin.caller, change), 200, SiteSettingsResponse);
      expect(res.settings).toMatchObject(change);
      expect(res.redacted).toEqual([]);
    }
    const log = await expectJson(await call(admin.caller, `/api/sites/${site}/activity?kind=settings&limit=50`), 200, ActivityPage);
    const changed = new Set(log.entries.map((e) => (e.data as { setting: string }).setting));
    for (const change of EVERY_FIELD) expect(changed.has(Object.keys(change)[0]!)).toBe(true);
  });

  it("raising the maximum tier to 3 is called out in the log", async () => {
    await patch(admin.caller, { autonomyMaxTier: 2 });
    await patch(admin.caller, { autonomyMaxTier: 3 });
    const log = await expectJson(await call(member.caller, `/api/sites/${site}/activity?kind=autonomy&level=warn`), 200, ActivityPage);
    expect(log.entries[0]).toMatchObject({ actor: admin.email });
    expect(log.entries[0]!.message).toContain("may now use risk tier 3");
    await patch(admin.caller, { autonomyMaxTier: 2 });
  });

  it("members see where the webhook goes, never its path or token, in the settings and in the log", async () => {
    await patch(admin.caller, { escalationWebhookUrl: "https://hooks.slack.com/services/T111/B222/verysecrettoken" });
    expect((await read(admin.caller)).settings.escalationWebhookUrl).toBe("https://hooks.slack.com/services/T111/B222/verysecrettoken");
    for (const caller of [member.caller, (await createKey(admin.caller, "read")).caller]) {
      const seen = await read(caller);
      expect(seen.settings.escalationWebhookUrl).toBe("https://hooks.slack.com/…");
      expect(seen.redacted).toEqual(["escalationWebhookUrl"]);
    }
    const log = await call(member.caller, `/api/sites/${site}/activity?kind=settings&limit=100`);
    expect(await log.text()).not.toContain("verysecrettoken");
  });

  it.each([
    ["a tier above 3", { autonomyMaxTier: 4 }],
    ["tier 0", { autonomyMaxTier: 0 }],
    ["a tier as text", { autonomyMaxTier: "3" }],
    ["no cooldown", { autonomyCooldownMinutes: 0 }],
    ["a fractional limit", { autonomyMaxActive: 1.5 }],
    ["a step limit of one (no room for a verdict)", { autonomyStepLimit: 1 }],
    ["an empty directive", { autonomyDirective: "   " }],
    ["a model with spaces", { autonomyModel: "gpt 4; rm" }],
    ["an email that is not one", { escalationEmails: ["not-an-email"] }],
    ["eleven emails", { escalationEmails: Array.from({ length: 11 }, (_, i) => `p${i}@example.com`) }],
    ["http to a public host", { escalationWebhookUrl: "http://hooks.example.com/x" }],
    ["a private address", { escalationWebhookUrl: "https://10.1.2.3/hook" }],
    ["the metadata address", { escalationWebhookUrl: "https://169.254.169.254/latest" }],
    ["loopback over https", { escalationWebhookUrl: "https://127.0.0.1/hook" }],
    ["a unique-local IPv6", { escalationWebhookUrl: "https://[fd00::1]/hook" }],
    ["an IPv4-mapped private IPv6", { escalationWebhookUrl: "https://[::ffff:192.168.1.1]/hook" }],
    ["a .internal name", { escalationWebhookUrl: "https://metadata.google.internal/x" }],
    ["credentials in the URL", { escalationWebhookUrl: "https://user:pass@hooks.example.com/x" }],
    ["another scheme", { escalationWebhookUrl: "file:///etc/passwd" }],
  ])("refuses %s and changes nothing", async (_what, body) => {
    const before = await read(admin.caller);
    expect((await refusal(await patch(admin.caller, body), 400)).code).toBe("invalid_body");
    expect(await read(admin.caller)).toEqual(before);
  });

  it("a loopback webhook is refused by a hub that does not allow one", async () => {
    const stub = hubObject(site);
    const result = await runInDurableObject(stub, (instance: SiteHub) => {
      const env = (instance as unknown as { env: { CORTEX_ALLOW_LOOPBACK_WEBHOOKS?: string } }).env;
      const allowed = env.CORTEX_ALLOW_LOOPBACK_WEBHOOKS;
      env.CORTEX_ALLOW_LOOPBACK_WEBHOOKS = undefined;
      try {
        return instance.updateSettings({ escalationWebhookUrl: "http://127.0.0.1:9/hook" }, "test");
      } finally {
        env.CORTEX_ALLOW_LOOPBACK_WEBHOOKS = allowed;
      }
    });
    expect(result).toMatchObject({ ok: false, error: { code: "invalid_webhook_url" } });
  });
});
