import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_SITE_SETTINGS } from "../../protocol/site-settings.ts";
import type { AutonomyEventView } from "../../protocol/autonomy.ts";
import { apiError, sendJson, startFakeHub, type FakeHub } from "./cli-fake-hub.ts";
import { emptyDir, runCli } from "./cli-run.ts";

const KEY = "ck_autonomy_key_0123456789";
const EVENT = "ae-11111111-2222-3333-4444-555555555555";
const WITHHELD_EVENT = "ae-31111111-2222-3333-4444-555555555555";
const ALERT_EVENT = "ae-41111111-2222-3333-4444-555555555555";
/** What an alert's sender can put in its summary: a clipboard write (OSC 52) and a line erase. */
const ESCAPES = "disk full\u001b]52;c;Y3VybCBldmlsfHNo\u0007 \u001b[2Kall fine";
let hub: FakeHub;

function event(over: Partial<AutonomyEventView> = {}): AutonomyEventView {
  const none = { status: "none" as const, at: null, detail: null };
  return {
    id: EVENT,
    source: "process",
    trigger: "crashed",
    eventKey: "web-1/pe-1",
    nodeId: "web-1",
    subject: "api",
    status: "escalated",
    skipReason: null,
    reason: "the investigation could not resolve it",
    detail: "api crashed (exit 2)",
    conversationId: "c-11111111-2222-3333-4444-555555555555",
    verdict: { resolved: false, summary: "api exits at once: its config file is missing.", actions: [] },
    actions: [{ tool: "get_process_logs", tier: 1, input: { machine: "web-1", name: "api" }, status: "done", at: 5 }],
    verdictWithheld: false,
    usage: { inputTokens: 400, outputTokens: 60, costMicroUsd: 0 },
    duplicates: 0,
    escalation: { email: { status: "sent", at: 9, detail: "to oncall@example.com" }, webhook: none },
    createdAt: Date.now() - 60_000,
    endedAt: Date.now(),
    ...over,
  };
}

beforeAll(async () => {
  hub = await startFakeHub({
    "GET /api/sites/default/settings": (_req, res) => sendJson(res, 200, { settings: { ...DEFAULT_SITE_SETTINGS, escalationWebhookUrl: "https://hooks.example.com/…" }, redacted: ["escalationWebhookUrl"] }),
    "PATCH /api/sites/default/settings": (req, res) => sendJson(res, 200, { settings: { ...DEFAULT_SITE_SETTINGS, ...(req.body as object) }, redacted: [] }),
    "PATCH /api/sites/member-site/settings": (_req, res) => apiError(res, 403, "forbidden", "changing the site's settings needs the admin role on site member-site"),
    "GET /api/sites/default/autonomy/events": (_req, res) => sendJson(res, 200, { events: [event(), event({ id: "ae-21111111-2222-3333-4444-555555555555", status: "skipped", skipReason: "cooldown", conversationId: null, verdict: null })], nextBefore: null, active: 1, maxActive: 3 }),
    [`GET /api/sites/default/autonomy/events/${EVENT}`]: (_req, res) => sendJson(res, 200, event()),
    [`GET /api/sites/default/autonomy/events/${ALERT_EVENT}`]: (_req, res) => sendJson(res, 200, event({ id: ALERT_EVENT, source: "alertmanager", subject: `Disk${ESCAPES}`, detail: ESCAPES })),
    "GET /api/sites/alerts/autonomy/events": (_req, res) => sendJson(res, 200, { events: [event({ id: ALERT_EVENT, subject: `Disk${ESCAPES}`, reason: ESCAPES })], nextBefore: null, active: 0, maxActive: 3 }),
    [`GET /api/sites/default/autonomy/events/${WITHHELD_EVENT}`]: (_req, res) =>
      sendJson(res, 200, event({ id: WITHHELD_EVENT, verdict: null, actions: [{ tool: "run_command", tier: 3, input: { command: "df -h /" }, status: "done", at: 5 }], verdictWithheld: true })),
  });
});
afterAll(() => hub.close());

function cli(...argv: string[]) {
  return runCli(["--hub", hub.url, "--api-key", KEY, ...argv]);
}

describe("cortex autonomy", () => {
  it("set sends exactly the settings its flags name, checked before sending", async () => {
    const r = await cli("autonomy", "set", "--on", "--max-tier", "1", "--cooldown", "30", "--email", "a@example.com", "--email", "B@example.com", "--no-webhook");
    expect(r.code, r.stderr).toBe(0);
    expect(hub.requests.at(-1)).toMatchObject({
      method: "PATCH",
      body: { autonomyEnabled: true, autonomyMaxTier: 1, autonomyCooldownMinutes: 30, escalationEmails: ["a@example.com", "b@example.com"], escalationWebhookUrl: null },
    });
    expect(Object.keys(hub.requests.at(-1)!.body as object)).toHaveLength(5);
    expect(r.stdout).toContain("autonomy:");
    expect(r.stdout).toMatch(/cooldown:\s+30 min/);
  });

  it("reads the directive from a file, or goes back to the default one", async () => {
    const dir = emptyDir();
    writeFileSync(join(dir, "mission.txt"), "Keep the kiosk up. Never reboot.\n");
    const r = await runCli(["--hub", hub.url, "--api-key", KEY, "autonomy", "set", "--directive-file", "mission.txt"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(hub.requests.at(-1)!.body).toEqual({ autonomyDirective: "Keep the kiosk up. Never reboot." });
    expect((await cli("autonomy", "set", "--default-directive")).code).toBe(0);
    expect((hub.requests.at(-1)!.body as { autonomyDirective: string }).autonomyDirective).toBe(DEFAULT_SITE_SETTINGS.autonomyDirective);
  });

  it("refuses contradictory or invalid flags, and no flag at all, without sending anything", async () => {
    const before = hub.requests.length;
    const cases: [string[], string][] = [
      [["--on", "--off"], "--on and --off"],
      [["--directive", "x", "--default-directive"], "give one of --directive"],
      [["--model", "m", "--site-model"], "--model and --site-model"],
      [["--email", "a@example.com", "--no-emails"], "--email and --no-emails"],
      [["--email", "not-an-address"], "invalid settings"],
      [["--webhook", "http://10.0.0.5/hook"], "invalid settings"],
      [["--max-tier", "4"], "--max-tier"],
      [["--cooldown", "0"], "whole number above 0"],
      [[], "nothing to change"],
    ];
    for (const [flags, message] of cases) {
      const r = await cli("autonomy", "set", ...flags);
      expect(r.code, flags.join(" ")).not.toBe(0);
      expect(r.stderr, flags.join(" ")).toContain(message);
    }
    expect(hub.requests.length).toBe(before);
  });

  it("a member's change is refused by the hub, and the CLI says so", async () => {
    const r = await runCli(["--hub", hub.url, "--api-key", KEY, "--site", "member-site", "autonomy", "set", "--off"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("needs the admin role");
  });

  it("show marks a webhook URL shown in part", async () => {
    const r = await cli("autonomy", "show");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/autonomy:\s+off/);
    expect(r.stdout).toContain("https://hooks.example.com/… (shown in full to site admins only)");
  });

  it("events lists outcomes and skip reasons; event shows the verdict, the tools and the escalation", async () => {
    const list = await cli("autonomy", "events", "--status", "escalated", "--node", "web-1");
    expect(list.code, list.stderr).toBe(0);
    expect(hub.requests.at(-1)!.query.get("status")).toBe("escalated");
    expect(hub.requests.at(-1)!.query.get("node")).toBe("web-1");
    expect(list.stdout).toContain("1 of 3 investigations running");
    expect(list.stdout).toContain("skipped (cooldown)");
    expect(list.stdout).toContain("c-11111111-2222-3333-4444-555555555555");

    const one = await cli("autonomy", "event", EVENT);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain("unresolved: api exits at once");
    expect(one.stdout).toContain("get_process_logs (tier 1, done)");
    expect(one.stdout).toMatch(/email:\s+sent \(to oncall@example.com\)/);
  });

  it("shows the escape sequences an alert's sender wrote instead of passing them to the terminal", async () => {
    const one = await cli("autonomy", "event", ALERT_EVENT);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toContain("disk full⟨U+001B⟩]52;c;Y3VybCBldmlsfHNo⟨U+0007⟩ ⟨U+001B⟩[2Kall fine");
    const list = await cli("--site", "alerts", "autonomy", "events");
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain("Disk");
    for (const out of [one.stdout, list.stdout]) {
      expect(out).not.toContain("\u001b");
      expect(out).not.toContain("\u0007");
    }
  });

  it("event says when the verdict is withheld from the caller, rather than that there is none", async () => {
    const one = await cli("autonomy", "event", WITHHELD_EVENT);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(/verdict:\s+withheld \(the investigation read outside the paths you may read/);
    expect(one.stdout).toContain("run_command (tier 3, done)");
  });
});
