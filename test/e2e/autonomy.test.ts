import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatedApiKey, CreatedInvite } from "../../protocol/accounts.ts";
import { ActionName } from "../../protocol/directives.ts";
import { AlertmanagerResponse, AutonomyEventListResponse, AutonomyEventView, CreatedAlertToken, type AutonomyStatus } from "../../protocol/autonomy.ts";
import { ConversationView } from "../../protocol/chat.ts";
import { ProcessListResponse, type ProcessEvent, type ProcessSpecInput } from "../../protocol/processes.ts";
import { SiteSettingsResponse, type SiteSettingsPatch } from "../../protocol/site-settings.ts";
import { launchBrowser, newContext, PageProblems, screenshot, signInWithPassword } from "../support/browser.ts";
import { Fleet, type AgentHandle } from "../support/fleet.ts";
import { ANY_JSON, HubSession } from "../support/hub-session.ts";
import { HubApi } from "../support/hub-api.ts";
import { MockLlm } from "../support/mock-llm.ts";
import type { MockTurn } from "../support/mock-llm-script.ts";
import { waitFor } from "../support/wait-for.ts";
import { WebhookReceiver } from "../support/webhook-receiver.ts";

/**
 * Autonomous investigations end to end: a real hub under wrangler dev (send_email kept locally, loopback webhooks
 * allowed), real agents supervising real processes that crash, the real `cortex` CLI, the provider SDK inside the
 * hub pointed at the mock LLM, and a local webhook receiver. The tests share one site and run in order; each uses
 * its own processes (the cooldown is per machine and process), its own site key (so the mock's script is its own)
 * and its own webhook path.
 */
let fleet: Fleet;
let mock: MockLlm;
let receiver: WebhookReceiver;
let member: HubApi;
let alertToken: string;
const agents: Record<string, AgentHandle> = {};
let keyCounter = 0;

const USAGE = { input: 300, output: 40 };

beforeAll(async () => {
  fleet = await Fleet.start({ CORTEX_ALLOW_LOOPBACK_WEBHOOKS: "1" });
  mock = await MockLlm.start();
  receiver = await WebhookReceiver.start();
  for (const name of ["web-1", "web-2", "web-3"]) agents[name] = await fleet.connectedNode(name, "root");

  const on = await fleet.cortex.run(["autonomy", "set", "--on", "--email", "oncall@example.com", "--webhook", receiver.url("/hooks/setup")]);
  expect(on.code, on.stderr).toBe(0);
  const token = await fleet.cortex.run(["autonomy", "alert-token", "rotate"]);
  expect(token.code, token.stderr).toBe(0);
  alertToken = token.stdout.trim();

  const root = new HubSession(fleet.hub.url);
  await root.post("/api/setup", { setupCode: fleet.hub.adminKey, email: "root@example.com", name: "Root", password: "root password 0123456789" }, ANY_JSON, 201);
  const invite = await root.post("/api/sites/default/invites", { role: "member" }, CreatedInvite, 201);
  const person = new HubSession(fleet.hub.url);
  await person.post("/api/invites/accept", { token: new URL(invite.url).pathname.split("/").pop(), name: "Mia", email: "mia@example.com", password: "a member's long password" }, ANY_JSON, 201);
  member = new HubApi(fleet.hub.url, (await person.post("/api/auth/api-keys", { name: "member cli", scope: "admin" }, CreatedApiKey, 201)).key);
});

afterAll(async () => {
  await fleet?.close();
  await mock?.close();
  await receiver?.close();
});

/** A fresh site key on the mock (saved with the CLI, as an admin would), so this test's script is its own. */
async function freshSiteKey(): Promise<string> {
  keyCounter += 1;
  const key = `e2e-auto-${keyCounter}-${process.pid}`;
  const out = await fleet.cortex.run(["llm", "set", "--site-key", "--provider", "anthropic", "--model", "claude-sonnet-5-5", "--base-url", mock.anthropicBaseUrl, "--key", key]);
  expect(out.code, out.stderr).toBe(0);
  return key;
}

async function settings(patch: SiteSettingsPatch): Promise<void> {
  const res = await fleet.api.raw("PATCH", fleet.api.sitePath("/settings"), { body: JSON.stringify(patch), headers: { "Content-Type": "application/json" } });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
}

async function addProcess(node: string, spec: ProcessSpecInput): Promise<void> {
  const res = await fleet.api.raw("POST", fleet.api.sitePath(`/nodes/${node}/processes`), { body: JSON.stringify(spec), headers: { "Content-Type": "application/json" } });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
}

async function removeProcess(node: string, name: string): Promise<void> {
  await fleet.api.raw("DELETE", fleet.api.sitePath(`/nodes/${node}/processes/${name}`));
}

async function autonomyEvents(query = ""): Promise<AutonomyEventView[]> {
  return (await fleet.api.call("GET", `/autonomy/events?limit=200${query}`, AutonomyEventListResponse)).events;
}

function eventsOf(list: AutonomyEventView[], node: string, subject: string): AutonomyEventView[] {
  return list.filter((e) => e.nodeId === node && e.subject === subject);
}

/**
 * Waits until an event of the machine and subject has one of `statuses` and its escalation is settled. On a timeout
 * the error shows the events of that subject as they were, and the end of the hub's output.
 */
async function settledEvent(node: string, subject: string, statuses: AutonomyStatus[], timeoutMs = 90_000): Promise<AutonomyEventView> {
  let seen: AutonomyEventView[] = [];
  try {
    return await waitFor(
      `an event of ${subject} on ${node} to be ${statuses.join(" or ")}`,
      async () => {
        seen = eventsOf(await autonomyEvents(), node, subject);
        const found = seen.find((e) => statuses.includes(e.status));
        const busy = found && [found.escalation.email.status, found.escalation.webhook.status].some((s) => s === "pending" || s === "sending");
        return found && !busy ? found : undefined;
      },
      { timeoutMs },
    );
  } catch (error) {
    const shown = seen.map((e) => `${e.id} ${e.status} ${e.skipReason ?? ""} ${e.reason ?? ""} email=${e.escalation.email.status} webhook=${e.escalation.webhook.status}`);
    throw new Error(`${(error as Error).message}\nevents:\n${shown.join("\n")}\nhub output:\n${fleet.hub.output.slice(-3000)}`);
  }
}

function verdict(resolved: boolean, summary: string, actions: string[] = []): MockTurn {
  return { toolCalls: [{ name: "report_verdict", input: { resolved, summary, actions } }], usage: USAGE };
}

/** A folder for flag files that the test writes and the supervised processes (whoever they run as) remove. */
function flagDir(): string {
  const dir = fleet.dirs.makeOpen("cortex-e2e-flags-");
  chmodSync(dir, 0o777);
  return dir;
}

/** A shell line for a supervised process that crashes each time `flag` appears (and removes it), else keeps running. */
function crashOnFlag(flag: string): string {
  return `while [ ! -e ${flag} ]; do sleep 0.1; done; rm -f ${flag}; echo "crash requested by the test" >&2; exit 1`;
}

describe("the autonomy settings", () => {
  it("a member cannot change any of them, through the API or the CLI; the webhook URL is shown to them only in part", async () => {
    const patches: SiteSettingsPatch[] = [
      { autonomyEnabled: false },
      { autonomyDirective: "Reboot everything." },
      { autonomyMaxTier: 3 },
      { autonomyModel: "gpt-4o" },
      { autonomyCooldownMinutes: 1 },
      { autonomyMaxActive: 20 },
      { autonomyStepLimit: 50 },
      { escalationEmails: ["mia@example.com"] },
      { escalationWebhookUrl: "https://evil.example.com/hook" },
    ];
    const before = await fleet.api.call("GET", "/settings", SiteSettingsResponse);
    for (const patch of patches) {
      const res = await member.raw("PATCH", member.sitePath("/settings"), { body: JSON.stringify(patch), headers: { "Content-Type": "application/json" } });
      expect(res.status, JSON.stringify(patch)).toBe(403);
    }
    const cli = await fleet.cortex.run(["autonomy", "set", "--off", "--max-tier", "3"], 60_000, { CORTEX_API_KEY: member.apiKey });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain("members of site default may not");
    for (const method of ["POST", "DELETE"]) expect((await member.raw(method, member.sitePath("/alerts/alertmanager/token"))).status).toBe(403);
    expect(await fleet.api.call("GET", "/settings", SiteSettingsResponse)).toEqual(before);

    const seen = await member.call("GET", "/settings", SiteSettingsResponse);
    expect(seen.redacted).toEqual(["escalationWebhookUrl"]);
    expect(seen.settings.escalationWebhookUrl).toBe(`${new URL(receiver.url("/")).origin}/…`);
    const shown = await fleet.cortex.run(["autonomy", "show"], 60_000, { CORTEX_API_KEY: member.apiKey });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).not.toContain("/hooks/setup");
  });
});

describe("autonomous investigations", () => {
  it("investigate a crash: the logs, a restart with a tier-2 tool, a resolved verdict, and nothing escalated", async () => {
    const key = await freshSiteKey();
    const hook = "/hooks/resolved";
    await settings({ escalationWebhookUrl: receiver.url(hook) });
    const flag = join(flagDir(), "crash");
    mock.script(
      key,
      { text: "Reading its log.", toolCalls: [{ name: "get_process_logs", input: { machine: "web-1", name: "api", lines: 20 } }], usage: USAGE },
      { toolCalls: [{ name: "restart_process", input: { machine: "web-1", name: "api" } }], usage: USAGE },
      verdict(true, "api exited after a requested crash; restarted, it runs again.", ["restarted api"]),
    );
    await addProcess("web-1", { name: "api", command: crashOnFlag(flag), shell: true, startupSeconds: 0.5 });
    await waitFor("api to run", async () => (await processState("web-1", "api")) === "running", { timeoutMs: 30_000 });
    const pidBefore = await processPid("web-1", "api");
    await new Promise((r) => setTimeout(r, 800));
    writeFileSync(flag, "");

    const done = await settledEvent("web-1", "api", ["resolved"]);
    expect(done).toMatchObject({ source: "process", trigger: "crashed", verdict: { resolved: true, actions: ["restarted api"] } });
    expect(done.actions.map((a) => [a.tool, a.tier, a.status])).toEqual([
      ["get_process_logs", 1, "done"],
      ["restart_process", 2, "done"],
    ]);
    expect(done.escalation).toMatchObject({ email: { status: "none" }, webhook: { status: "none" } });
    expect(done.usage).toMatchObject({ inputTokens: 900, outputTokens: 120 });
    // The model read the real log the agent keeps, and the real process was restarted.
    expect(JSON.stringify(mock.requests(key)[1]!.body.messages)).toContain("crash requested by the test");
    await waitFor("api to run again", async () => (await processState("web-1", "api")) === "running" && (await processPid("web-1", "api")) !== pidBefore, { timeoutMs: 30_000 });
    const offered = ((mock.requests(key)[0]!.body.tools as { name: string }[]) ?? []).map((t) => t.name);
    expect(offered).toContain("restart_process");
    expect(offered).not.toContain("run_command");

    const conv = await fleet.api.call("GET", `/conversations/${done.conversationId}`, ConversationView);
    expect(conv.conversation).toMatchObject({ auto: true, eventId: done.id, target: { node: "web-1" } });
    expect(conv.messages.flatMap((m) => m.toolCalls).find((t) => t.name === "restart_process")).toMatchObject({ status: "done", tier: 2 });
    const listed = await fleet.cortex.run(["chat", "list"]);
    expect(listed.stdout).toContain(done.conversationId!);
    expect(receiver.received(hook)).toEqual([]);
    await removeProcess("web-1", "api");
  });

  it("a crash loop gives exactly one investigation within the cooldown; the other crashes are skipped", async () => {
    const key = await freshSiteKey();
    await settings({ escalationWebhookUrl: receiver.url("/hooks/loop") });
    mock.script(key, verdict(true, "loop keeps crashing on purpose; looked at it once."));
    await addProcess("web-2", {
      name: "loop",
      command: "sleep 0.7; echo 'loop: giving up' >&2; exit 4",
      shell: true,
      startupSeconds: 0.5,
      restart: { maxAttempts: 100, windowSeconds: 300, backoffSeconds: 0.2, maxBackoffSeconds: 0.2 },
    });
    const list = await waitFor(
      "four crashes of loop to reach the guards",
      async () => {
        const all = eventsOf(await autonomyEvents(), "web-2", "loop");
        return all.length >= 4 ? all : undefined;
      },
      { timeoutMs: 60_000 },
    );
    await removeProcess("web-2", "loop");
    const investigated = list.filter((e) => e.conversationId !== null);
    expect(investigated).toHaveLength(1);
    const skipped = list.filter((e) => e.status === "skipped");
    expect(skipped.length).toBe(list.length - 1);
    for (const s of skipped) {
      expect(s.skipReason).toBe("cooldown");
      expect(s.reason).toContain(investigated[0]!.id);
    }
    await settledEvent("web-2", "loop", ["resolved"]);
    expect(mock.requests(key)).toHaveLength(1);
  });

  it("reject a replayed event id: acknowledged, recorded once, investigated once", async () => {
    const key = await freshSiteKey();
    mock.script(key, verdict(true, "A test event; nothing to do."));
    const creds = await fleet.register("replay-1", "root");
    await addProcess("replay-1", { name: "api", command: "/bin/true" });
    const socket = await RawNode.connect(fleet.hub.endpoint, creds.token, "replay-1");
    try {
      const crash: ProcessEvent = { id: `pe-${crypto.randomUUID()}`, name: "api", kind: "crashed", at: Date.now(), pid: 999_999, exitCode: 1, uptimeMs: 5_000 };
      expect(await socket.report(crash)).toEqual([crash.id]);
      // The same id again, and the same id dressed up as another process: both are repeats.
      expect(await socket.report(crash)).toEqual([crash.id]);
      expect(await socket.report({ ...crash, name: "other", kind: "gave_up" })).toEqual([crash.id]);
      const done = await settledEvent("replay-1", "api", ["resolved"]);
      expect(done.eventKey).toBe(`replay-1/${crash.id}`);
      expect(eventsOf(await autonomyEvents(), "replay-1", "api")).toHaveLength(1);
      expect(eventsOf(await autonomyEvents(), "replay-1", "other")).toHaveLength(0);
      expect(mock.requests(key)).toHaveLength(1);
    } finally {
      socket.close();
    }
  });

  it("skip the fourth of four concurrent crashes as busy while three investigations run", async () => {
    const key = await freshSiteKey();
    const hanging: MockTurn = { text: "Looking.", hang: true };
    const dir = flagDir();
    const names = ["svc-1", "svc-2", "svc-3", "svc-4"];
    for (const name of names) await addProcess("web-3", { name, command: crashOnFlag(join(dir, name)), shell: true, startupSeconds: 0.5 });
    await waitFor("the four to run", async () => (await processList("web-3")).processes.every((p) => p.status?.state === "running"), { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 800));
    mock.script(key, hanging, hanging, hanging, ...names.slice(0, 3).map(() => verdict(true, "Released by the test.")));
    for (const name of names.slice(0, 3)) writeFileSync(join(dir, name), "");
    await waitFor("three investigations to run", async () => ((await autonomyEvents("&status=investigating")).length === 3 ? true : undefined), { timeoutMs: 30_000 });
    writeFileSync(join(dir, "svc-4"), "");
    const fourth = await settledEvent("web-3", "svc-4", ["skipped"]);
    expect(fourth).toMatchObject({ skipReason: "busy", reason: "3 investigations are running, the most this site allows at once", conversationId: null });
    expect((await fleet.api.call("GET", "/autonomy/events", AutonomyEventListResponse)).active).toBe(3);
    expect(mock.requests(key)).toHaveLength(3);
    mock.release(key);
    for (const name of names.slice(0, 3)) await settledEvent("web-3", name, ["resolved"]);
    for (const name of names) await removeProcess("web-3", name);
  });

  it("escalate an unresolved investigation by one email and one webhook, each with a link to it", async () => {
    const key = await freshSiteKey();
    const hook = "/hooks/unresolved";
    await settings({ escalationWebhookUrl: receiver.url(hook) });
    mock.script(
      key,
      { toolCalls: [{ name: "get_process_logs", input: { machine: "web-2", name: "broken" } }], usage: USAGE },
      verdict(false, "broken exits at once: /etc/broken.conf is missing. A person must restore it."),
    );
    await addProcess("web-2", { name: "broken", command: "echo 'cannot open /etc/broken.conf' >&2; sleep 0.7; exit 2", shell: true, startupSeconds: 0.5, restart: { maxAttempts: 100, windowSeconds: 300, backoffSeconds: 0.5, maxBackoffSeconds: 0.5 } });
    const done = await settledEvent("web-2", "broken", ["escalated"]);
    expect(done).toMatchObject({ reason: "the investigation could not resolve it", verdict: { resolved: false } });
    expect(done.escalation.email.status).toBe("sent");
    expect(done.escalation.email.detail).toContain("oncall@example.com");
    expect(done.escalation.webhook).toMatchObject({ status: "sent", detail: "HTTP 200" });
    const link = `${fleet.hub.url}/chat/${done.conversationId}?site=default`;

    const hooks = receiver.received(hook);
    expect(hooks).toHaveLength(1);
    expect((hooks[0]!.body as { text: string }).text).toContain(`<${link}|Open the investigation>`);
    expect((hooks[0]!.body as { text: string }).text).toContain("/etc/broken.conf is missing");
    // wrangler dev keeps the email in a file and logs where.
    const mail = await waitFor("wrangler to log the email", async () => /To: oncall@example\.com[\s\S]*?Text: (\S+)/.exec(fleet.hub.output)?.[1]);
    expect(existsSync(mail)).toBe(true);
    expect(readFileSync(mail, "utf8")).toContain(link);

    // More crashes of the same process within the cooldown send nothing more.
    await waitFor("two more crashes of broken", async () => (eventsOf(await autonomyEvents(), "web-2", "broken").length >= 3 ? true : undefined), { timeoutMs: 30_000 });
    await removeProcess("web-2", "broken");
    expect(receiver.received(hook)).toHaveLength(1);
    expect(fleet.hub.output.match(/To: oncall@example\.com/g)).toHaveLength(1);
    expect(mock.requests(key)).toHaveLength(2);
  });

  it("an Alertmanager alert starts an investigation on the machine it names; a resolved one is recorded", async () => {
    const key = await freshSiteKey();
    mock.script(key, { toolCalls: [{ name: "get_system_info", input: {} }], usage: USAGE }, verdict(true, "Load is back to normal on web-2."));
    const fingerprint = "a1b2c3d4e5f60718";
    const alert = (status: "firing" | "resolved") => ({
      version: "4",
      status,
      receiver: "cortex",
      alerts: [{ status, labels: { alertname: "HighLoad", cortex_node: "web-2", severity: "warning" }, annotations: { summary: "load above 20 for 10 minutes" }, startsAt: "2026-11-27T18:00:00Z", fingerprint }],
    });
    const post = (body: unknown, token: string) => fetch(`${fleet.hub.url}/api/sites/default/alerts/alertmanager`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });

    expect((await post(alert("firing"), `${alertToken.slice(0, -2)}xx`)).status).toBe(401);
    expect((await post(alert("firing"), fleet.hub.adminKey)).status).toBe(403);
    const res = await post(alert("firing"), alertToken);
    expect(res.status).toBe(200);
    const answer = AlertmanagerResponse.parse(await res.json());
    expect(answer.alerts).toMatchObject([{ fingerprint, status: "firing", nodeId: "web-2", outcome: "investigating" }]);

    const done = await settledEvent("web-2", "alert:HighLoad", ["resolved"]);
    expect(done).toMatchObject({ source: "alertmanager", trigger: "alert_firing", id: answer.alerts[0]!.eventId });
    expect(done.actions).toMatchObject([{ tool: "get_system_info", status: "done" }]);
    const conv = await fleet.api.call("GET", `/conversations/${done.conversationId}`, ConversationView);
    expect(conv.conversation.target).toEqual({ node: "web-2" });
    expect(JSON.stringify(mock.requests(key)[0]!.body.messages)).toContain("load above 20 for 10 minutes");
    const directive = await fleet.api.directive(conv.messages.flatMap((m) => m.toolCalls).find((t) => t.name === "get_system_info")!.directiveId!);
    expect(directive).toMatchObject({ nodeId: "web-2", action: "system.info", status: "done" });

    // Alertmanager repeats a firing alert; the same alert is a duplicate. Its resolution is recorded.
    const again = AlertmanagerResponse.parse(await (await post(alert("firing"), alertToken)).json());
    expect(again.alerts[0]).toMatchObject({ outcome: "duplicate" });
    const resolved = AlertmanagerResponse.parse(await (await post(alert("resolved"), alertToken)).json());
    expect(resolved.alerts[0]).toMatchObject({ outcome: "recorded", nodeId: "web-2" });
    expect(mock.requests(key)).toHaveLength(2);
  });

  it("escalate an alert about an offline machine at once, without a model call", async () => {
    const key = await freshSiteKey();
    const hook = "/hooks/offline";
    await settings({ escalationWebhookUrl: receiver.url(hook) });
    const gone = await fleet.connectedNode("gone-1", "root");
    gone.proc.killGroup("SIGKILL");
    await gone.proc.exited;
    await fleet.waitForStatus("gone-1", "disconnected", 60_000);
    const res = await fetch(`${fleet.hub.url}/api/sites/default/alerts/alertmanager`, {
      method: "POST",
      headers: { Authorization: `Bearer ${alertToken}`, "Content-Type": "application/json" },
      body: JSON.stringify({ version: "4", alerts: [{ status: "firing", labels: { alertname: "NodeDown", cortex_node: "gone-1" }, startsAt: "2026-11-27T18:05:00Z", fingerprint: "0fedcba987654321" }] }),
    });
    expect(AlertmanagerResponse.parse(await res.json()).alerts[0]).toMatchObject({ nodeId: "gone-1", outcome: "escalated" });
    const done = await settledEvent("gone-1", "alert:NodeDown", ["escalated"]);
    expect(done.reason).toBe("machine gone-1 is offline, so it cannot be investigated");
    expect(done.conversationId).toBeNull();
    expect(done.escalation.webhook.status).toBe("sent");
    expect(receiver.received(hook)).toHaveLength(1);
    expect(mock.requests(key)).toHaveLength(0);
  });
});

async function processList(node: string): Promise<ProcessListResponse> {
  return fleet.api.call("GET", `/nodes/${node}/processes`, ProcessListResponse);
}

async function processState(node: string, name: string): Promise<string | undefined> {
  return (await processList(node)).processes.find((p) => p.name === name)?.status?.state;
}

async function processPid(node: string, name: string): Promise<number | null | undefined> {
  return (await processList(node)).processes.find((p) => p.name === name)?.status?.pid;
}

/**
 * A node that speaks the wire protocol without being an agent, for what a real agent never does on purpose: send the
 * same process event again.
 */
class RawNode {
  private readonly acks: ((ids: string[]) => void)[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const msg = JSON.parse(String(data)) as { type: string; ids?: string[] };
      if (msg.type === "process_events_ack") this.acks.shift()?.(msg.ids ?? []);
    });
  }

  static connect(endpoint: string, token: string, id: string): Promise<RawNode> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(endpoint, { headers: { Authorization: `Bearer ${token}` } });
      ws.once("error", reject);
      ws.once("open", () => ws.send(JSON.stringify({ type: "register", agentId: id, name: id, capabilities: ActionName.options.slice(0, 64), version: "e2e-raw", tier: "root" })));
      ws.on("message", function onMessage(data) {
        if ((JSON.parse(String(data)) as { type: string }).type !== "registered") return;
        ws.off("message", onMessage);
        resolve(new RawNode(ws));
      });
    });
  }

  /** Sends one event in a frame of its own; resolves with the ids the hub acknowledged. */
  report(event: ProcessEvent): Promise<string[]> {
    return new Promise((resolve) => {
      this.acks.push(resolve);
      this.ws.send(JSON.stringify({ type: "process_events", events: [event] }));
    });
  }

  close(): void {
    this.ws.close();
  }
}

describe("the dashboard", () => {
  const POLL = { timeout: 20_000 };
  let browser: Browser;
  const problems = new PageProblems();

  beforeAll(async () => {
    browser = await launchBrowser();
  });

  afterAll(async () => {
    if (problems.seen.length) console.error(`problems: ${problems.seen.join("\n")}`);
    await browser?.close();
  });

  async function signedIn(email: string, password: string): Promise<Page> {
    const page = problems.watch(await (await newContext(browser, fleet.hub.url)).newPage());
    await signInWithPassword(page, email, password);
    return page;
  }

  it("lists events with their outcome and a link to each investigation; an admin changes the settings there", async () => {
    const page = await signedIn("root@example.com", "root password 0123456789");
    await page.getByRole("link", { name: "Autonomy" }).click();
    await page.waitForURL(/\/autonomy$/);
    const rows = page.locator("table.autonomy-events tbody tr");
    const all = await autonomyEvents();
    await expect.poll(() => rows.count(), POLL).toBe(Math.min(all.length, 50));
    const escalated = all.find((e) => e.subject === "broken" && e.status === "escalated")!;
    const row = page.locator(`tr[id="${escalated.id}"]`);
    await expect.poll(() => row.textContent(), POLL).toContain("/etc/broken.conf is missing");
    expect(await row.locator(".badge").textContent()).toBe("escalated");
    expect(await row.getByRole("link", { name: "Open the conversation" }).getAttribute("href")).toBe(`/chat/${escalated.conversationId}`);
    await expect.poll(() => page.locator('tr:has-text("svc-4") .badge').textContent(), POLL).toBe("skipped: busy");

    // The investigation opens in the chat, whose list marks it "auto".
    await row.getByRole("link", { name: "Open the conversation" }).click();
    await page.waitForURL(new RegExp(`/chat/${escalated.conversationId}$`));
    const listed = page.locator(`.conversation-list a[href="/chat/${escalated.conversationId}"]`);
    await expect.poll(() => listed.locator(".badge").first().textContent(), POLL).toBe("auto");
    await page.goBack();
    await page.waitForURL(/\/autonomy$/);

    await page.getByLabel("Outcome").selectOption("escalated");
    await page.waitForURL(/status=escalated/);
    await expect.poll(async () => new Set(await rows.locator(".badge").allTextContents()), POLL).toEqual(new Set(["escalated"]));
    await screenshot(page, "autonomy");

    await page.goto("/settings/site");
    await page.getByLabel("Cooldown per machine and process, minutes").fill("20");
    await page.locator("#autonomy-title").locator("..").getByRole("button", { name: "Save" }).click();
    await expect.poll(async () => (await fleet.api.call("GET", "/settings", SiteSettingsResponse)).settings.autonomyCooldownMinutes, POLL).toBe(20);
    expect(await page.getByLabel("Investigate crashes and alerts on their own").isChecked()).toBe(true);
    expect(problems.cspViolations()).toEqual([]);
  });

  it("shows a member the settings without a way to change them", async () => {
    const page = await signedIn("mia@example.com", "a member's long password");
    await page.goto("/settings/site");
    const section = page.locator("#autonomy-title").locator("..");
    await expect.poll(() => section.textContent(), POLL).toContain("Only the site's admins can change these settings.");
    expect(await section.locator("input, textarea, select, button").count()).toBe(0);
    expect(await section.textContent()).not.toContain("/hooks/");
    expect(problems.cspViolations()).toEqual([]);
  });
});
