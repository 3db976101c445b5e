import { env, runDurableObjectAlarm } from "cloudflare:test";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ActivityPage, DirectiveView, FanOutAggregate, RunRecord, type ActivityEntry } from "../../protocol/api.ts";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { call, expectJson, join, newSite, PASSWORD, rootSession, signIn, type Caller } from "./accounts-support.ts";
import { watch } from "./live-viewer.ts";
import { api, BASE, connectNode, FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * The activity log as an auditor reads it: one entry per directive saying what ran (secrets redacted), where, by
 * whom and how it ended, updated in place and pushed live; levels that mean something; and access events that
 * reach a site's admins and the person they are about, never the other members.
 */

afterEach(() => vi.useRealTimers());

function post(path: string, body: unknown, accept?: string): Promise<Response> {
  return api(path, { method: "POST", body: JSON.stringify(body), headers: accept ? { Accept: accept } : {} });
}

async function log(site: string, query = "", caller?: Caller): Promise<ActivityEntry[]> {
  const path = `/api/sites/${site}/activity?limit=500${query}`;
  const res = caller ? await call(caller, path) : await api(path);
  return ActivityPage.parse(await res.json()).entries;
}

/** The headers a dashboard's live socket sends: its session cookie, from the hub's own origin. */
function cookie(c: Caller): Record<string, string> {
  return c.kind === "cookie" ? { Cookie: `__Host-cortex_session=${c.cookie}`, Origin: BASE } : {};
}

function answer(agent: FakeAgent, d: DirectiveMessage, output: string, exitCode = 0): void {
  agent.send({ type: "directive_ack", directiveId: d.id });
  agent.send({ type: "result", directiveId: d.id, success: exitCode === 0, output, durationMs: 5, exitCode });
}

async function nodeOnline(site: string, id: string, name = id, tier: "root" | "unprivileged" = "root") {
  const creds = await registerNode(site, { name, id, tier });
  return { creds, agent: await connectNode(site, creds) };
}

describe("a directive's activity entry", () => {
  it("is one entry, updated in place when the directive ends, saying what ran where by whom and how it ended", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "web-1", "Web server");
    const viewer = await watch(site);
    await viewer.snapshot();
    const pending = post(`/api/sites/${site}/nodes/web-1/directives`, { action: "bash", params: { command: "uptime && df -h /" } });
    const d = await agent.next("directive");
    const started = await viewer.entry((e) => e.directiveId === d.id);
    expect(started).toMatchObject({ kind: "directive", level: "info", nodeId: "web-1", actor: "admin key", updatedAt: null });
    expect(started.message).toBe('admin key ran bash "uptime && df -h /" on Web server (web-1): started');

    answer(agent, d, "up 3 days\n");
    await pending;
    const ended = await viewer.entry((e) => e.directiveId === d.id && e.updatedAt !== null);
    expect(ended.id).toBe(started.id);
    expect(ended.message).toMatch(/^admin key ran bash "uptime && df -h \/" on Web server \(web-1\): done \(exit 0\) in \d+ ms$/);
    expect(ended.data).toMatchObject({ directiveId: d.id, action: "bash", nodeName: "Web server", status: "done", exitCode: 0 });

    const entries = (await log(site, "&kind=directive")).filter((e) => e.directiveId === d.id);
    expect(entries).toEqual([ended]);
  });

  it("never shows a secret from the command, however long the command", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const secret = "AKIAABCDEFGHIJKLMNOP";
    const token = "ghp_" + "a1B2c3D4e5".repeat(4);
    const command = `AWS_ACCESS_KEY_ID=${secret} aws s3 ls; curl -H "Authorization: Bearer ${token}" https://api.example.com ${"x".repeat(300)}`;
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command } });
    answer(agent, await agent.next("directive"), "");
    await pending;
    const text = JSON.stringify(await log(site));
    expect(text).not.toContain(secret);
    expect(text).not.toContain(token);
    expect(text).not.toContain(token.slice(0, 12));
    expect(text).toContain("[REDACTED:");
  });

  it("is info when the asker got what they wanted or cancelled it, a warning for a failure, refusal, offline node, timeout or loss", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    await nodeOnline(site, "jail", "jail", "unprivileged");
    await registerNode(site, { name: "down" });

    const fail = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "false" } });
    answer(agent, await agent.next("directive"), "", 1);
    const failed = DirectiveView.parse(await (await fail).json());
    agent.take("directive");

    const cancelled = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "sleep 60" } }, "text/event-stream");
    const running = await agent.next("directive");
    agent.take("directive");
    expect((await post(`/api/sites/${site}/directives/${running.id}/cancel`, {})).status).toBe(200);
    await (await cancelled).text();

    const refused = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/jail/directives`, { action: "bash", params: { command: "id" } })).json());
    const offline = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/down/directives`, { action: "read", params: { path: "/etc/hostname" } })).json());

    const timing = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "sleep 9" }, timeoutMs: 1_000 });
    const slow = await agent.next("directive");
    agent.take("directive");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2_000);
    await runDurableObjectAlarm(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)));
    vi.useRealTimers();
    await timing;

    const losing = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "sleep 9" } });
    const lost = await agent.next("directive");
    agent.ws.close(1011, "crash");
    await losing;

    const byId = new Map((await log(site, "&kind=directive")).map((e) => [e.directiveId, e]));
    const level = (id: string) => [byId.get(id)?.level, byId.get(id)?.message];
    expect(level(failed.id)).toEqual(["warn", expect.stringMatching(/: failed \(exit 1\)/)]);
    expect(level(running.id)).toEqual(["info", expect.stringMatching(/: cancelled by admin key$/)]);
    expect(level(refused.id)).toEqual(["warn", expect.stringMatching(/: refused by the machine's tier: action bash is not allowed/)]);
    expect(level(offline.id)).toEqual(["warn", expect.stringMatching(/: not sent: the machine is offline$/)]);
    expect(level(slow.id)).toEqual(["warn", expect.stringMatching(/: timed out after/)]);
    expect(level(lost.id)).toEqual(["warn", expect.stringMatching(/: lost: node n1 dropped/)]);
    // One entry per directive: nothing else was logged about them.
    const perDirective = (await log(site, "&kind=directive")).filter((e) => e.directiveId !== null);
    expect(perDirective).toHaveLength(6);
  });

  it("of a fan-out: one entry per member and one for the fan-out, which sums it up and counts the offline machines not asked", async () => {
    const site = freshSite();
    const a = await nodeOnline(site, "a");
    const b = await nodeOnline(site, "b");
    await registerNode(site, { name: "sleeping" });
    const pending = post(`/api/sites/${site}/fanouts`, { target: { all: true }, action: "bash", params: { command: "hostname" } });
    answer(a.agent, await a.agent.next("directive"), "a\n");
    answer(b.agent, await b.agent.next("directive"), "", 2);
    const body = (await (await pending).json()) as { fanoutId: string; aggregate: FanOutAggregate };
    expect(body.aggregate).toMatchObject({ total: 2, succeeded: 1, failed: 1, skippedOffline: 1 });
    expect(FanOutAggregate.parse(await (await api(`/api/sites/${site}/fanouts/${body.fanoutId}`)).json()).skippedOffline).toBe(1);

    const entries = (await log(site, "&kind=directive")).filter((e) => e.fanoutId === body.fanoutId);
    const summary = entries.filter((e) => e.directiveId === null);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ level: "warn", message: 'admin key ran bash "hostname" on 2 machines (1 offline machine not asked): 1 succeeded, 1 failed' });
    const members = entries.filter((e) => e.directiveId !== null).sort((x, y) => x.nodeId!.localeCompare(y.nodeId!));
    expect(members.map((e) => e.nodeId)).toEqual(["a", "b"]);
    // Each member's entry says what ran, as a single directive's does, however the fan-out's members ended.
    expect(members.map((e) => e.message)).toEqual([expect.stringMatching(/^admin key ran bash "hostname" on a: done /), expect.stringMatching(/^admin key ran bash "hostname" on b: failed /)]);
  });

  it("of a long run's launch tells how the run ended, and the hub keeps the end for `run status` while the node is away", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "trainer");
    const pending = post(`/api/sites/${site}/nodes/trainer/directives`, { action: "run.launch", params: { command: "python train.py", name: "train" } });
    const d = await agent.next("directive");
    agent.send({ type: "result", directiveId: d.id, success: true, output: "", durationMs: 3, data: { kind: "run", runId: "run-train1" } });
    await pending;
    const running = RunRecord.parse(await (await api(`/api/sites/${site}/nodes/trainer/runs/run-train1`)).json());
    expect(running).toMatchObject({ runId: "run-train1", directiveId: d.id, launchedBy: "admin key", ended: null });

    agent.send({ type: "run_complete", runId: "run-train1", directiveId: d.id, state: "failed", exitCode: 3, reason: "exit code 3", outputTail: "loss: nan\n", startedAt: 1_000, endedAt: 61_000 });
    await agent.next("run_complete_ack");
    agent.ws.close(1000, "bye");
    const entry = (await log(site)).find((e) => e.directiveId === d.id)!;
    expect(entry.level).toBe("warn");
    expect(entry.message).toMatch(/: done in \d+ ms; run run-train1 ended failed \(exit 3\) after 1 min 0 s: exit code 3$/);

    const ended = RunRecord.parse(await (await api(`/api/sites/${site}/nodes/trainer/runs/run-train1`)).json());
    expect(ended.ended).toMatchObject({ state: "failed", exitCode: 3, outputTail: "loss: nan\n" });
    expect((await api(`/api/sites/${site}/nodes/trainer/runs/run-nope`)).status).toBe(404);
    expect((await api(`/api/sites/${site}/nodes/ghost/runs/run-train1`)).status).toBe(404);
    expect((await api(`/api/sites/${site}/nodes/trainer/runs/..%2Fetc`)).status).toBe(400);
  });
});

describe("node entries", () => {
  it("warn when a node drops without saying goodbye, and inform when it leaves cleanly", async () => {
    const site = freshSite();
    const one = await nodeOnline(site, "crashy");
    one.agent.ws.close(1011, "crash");
    const two = await nodeOnline(site, "polite");
    two.agent.send({ type: "disconnect", reason: "shutting down" });
    await two.agent.waitClose();
    await expect.poll(async () => (await log(site, "&kind=node")).filter((e) => /disconnect/.test(e.message)).length).toBeGreaterThanOrEqual(2);
    const entries = await log(site, "&kind=node");
    expect(entries.find((e) => e.nodeId === "crashy" && /disconnected/.test(e.message))?.level).toBe("warn");
    expect(entries.filter((e) => e.nodeId === "polite" && /disconnect/.test(e.message)).map((e) => e.level)).toEqual(["info"]);
  });
});

describe("access events in a site's log", () => {
  let root: Caller;
  beforeAll(async () => {
    root = await rootSession();
  });

  it("reach the site's admins and the person they are about, never the other members, in the API and live", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root, "auditor");
    const alice = await join(site, "member", root, "alice");
    const bob = await join(site, "member", root, "bob");
    const adminView = await watch(site, cookie(admin.caller), null);
    const bobView = await watch(site, cookie(bob.caller), null);
    await adminView.snapshot();
    await bobView.snapshot();

    await signIn(alice.email, PASSWORD);
    expect((await call({ kind: "anonymous" }, "/api/auth/login", { body: { email: alice.email, password: "wrong password 123" } })).status).toBe(401);
    await call(alice.caller, "/api/auth/api-keys", { body: { name: "laptop", scope: "read" } });
    await signIn(bob.email, PASSWORD);

    const aliceEvents = [`${alice.email} signed in with a password`, `failed sign-in as ${alice.email}: wrong email or password`, `created the read API key "laptop"`];
    const adminLog = (await log(site, "&kind=access", admin.caller)).map((e) => e.message);
    for (const text of [...aliceEvents, `${bob.email} signed in with a password`]) expect(adminLog.some((m) => m.includes(text))).toBe(true);
    await adminView.entry((e) => e.message.includes(`${bob.email} signed in`));
    const failed = (await log(site, "&kind=access", admin.caller)).find((e) => e.message.startsWith(`failed sign-in as ${alice.email}`));
    expect(failed).toMatchObject({ level: "warn", actor: alice.email });

    const aliceLog = (await log(site, "", alice.caller)).filter((e) => e.kind === "access").map((e) => e.message);
    for (const text of aliceEvents) expect(aliceLog.some((m) => m.includes(text))).toBe(true);
    expect(aliceLog.some((m) => m.includes(bob.email))).toBe(false);

    const bobLog = (await log(site, "", bob.caller)).filter((e) => e.kind === "access");
    expect(bobLog.length).toBeGreaterThan(0);
    expect(bobLog.every((e) => !e.message.includes(alice.email))).toBe(true);
    // Bob's live socket got his own sign-in, and nothing about Alice.
    await bobView.entry((e) => e.message.includes(`${bob.email} signed in`));
    expect(bobView.activity().some((e) => e.message.includes(alice.email))).toBe(false);
    expect(adminView.activity().some((e) => e.message.includes(alice.email))).toBe(true);

    // Members and read keys see machines and directives like anyone on the site.
    await registerNode(site, { name: "shared" });
    expect((await log(site, "&kind=node", bob.caller)).some((e) => e.nodeId === "shared")).toBe(true);
  });

  it("reach a member's live socket redacted like the API's answer, while an admin's shows what the agent wrote", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root, "admin-r");
    const member = await join(site, "member", root, "member-r");
    const adminView = await watch(site, cookie(admin.caller), null);
    const memberView = await watch(site, cookie(member.caller), null);
    await adminView.snapshot();
    await memberView.snapshot();
    const creds = await registerNode(site, { name: "leaky", tier: "root" });
    const agent = await connectNode(site, creds);
    const pending = post(`/api/sites/${site}/nodes/leaky/directives`, { action: "bash", params: { command: "deploy" } });
    const d = await agent.next("directive");
    agent.send({ type: "result", directiveId: d.id, success: false, output: "", durationMs: 5, exitCode: 1, error: "login failed: password=hunter2-not-for-members" });
    await pending;
    const ended = (e: ActivityEntry) => e.directiveId === d.id && e.updatedAt !== null;
    expect((await adminView.entry(ended)).message).toContain("password=hunter2-not-for-members");
    const seen = await memberView.entry(ended);
    expect(seen.message).not.toContain("hunter2");
    expect(seen.message).toContain("password=[REDACTED:secret setting]");
    const listed = (await log(site, "", member.caller)).find((e) => e.directiveId === d.id)!;
    expect(listed.message).toBe(seen.message);
  });

  it("of a role change close that person's live socket, so their dashboard reconnects with what the new role may see", async () => {
    const site = await newSite();
    const carol = await join(site, "admin", root, "carol");
    const view = await watch(site, cookie(carol.caller), null);
    await view.snapshot();
    expect((await call(root, `/api/sites/${site}/members/${carol.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(200);
    expect((await view.waitClose()).code).toBe(LiveCloseCode.ACCESS_CHANGED);
    const after = await log(site, "&kind=access", carol.caller);
    expect(after.every((e) => e.message.includes(carol.email))).toBe(true);
    const members = await expectJson(await call(carol.caller, `/api/sites/${site}/members`), 200, { parse: (v: unknown) => v as { superadmins: { email: string }[] } });
    expect(members.superadmins.map((s) => s.email)).toContain("root@example.com");
  });
});
