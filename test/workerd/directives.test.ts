import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ActivityPage, DirectiveEvent, DirectiveListResponse, DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { ADMIN_KEY, api, BASE, connectNode, FakeAgent, freshSite, registerNode } from "./support.ts";

afterEach(() => vi.useRealTimers());

function post(path: string, body: unknown, accept?: string): Promise<Response> {
  return api(path, { method: "POST", body: JSON.stringify(body), headers: accept ? { Accept: accept } : {} });
}

/** Reads a server-sent event stream to its end. */
async function readEvents(res: Response): Promise<DirectiveEvent[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => DirectiveEvent.parse(JSON.parse(f.slice(6))));
}

/** Plays a well-behaved agent for one directive: ack, chunks, result. */
function answer(agent: FakeAgent, d: DirectiveMessage, chunks: string[], exitCode = 0): void {
  agent.send({ type: "directive_ack", directiveId: d.id });
  chunks.forEach((chunk, seq) => agent.send({ type: "stream_chunk", directiveId: d.id, seq, chunk, stream: "stdout" }));
  agent.send({ type: "result", directiveId: d.id, success: exitCode === 0, output: chunks.join(""), durationMs: 5, exitCode, chunks: chunks.length });
}

/**
 * Waits until the site's object holds a directive's result back for its missing chunks (its `pending_result`), so a
 * test acts on that state rather than on a pause that a loaded machine can outrun.
 */
async function untilHeld(site: string, id: string): Promise<void> {
  const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  const held = () =>
    runInDurableObject(stub, (_hub, state) => state.storage.sql.exec("SELECT 1 FROM directives WHERE id = ? AND pending_result IS NOT NULL", id).toArray().length > 0);
  await vi.waitFor(async () => expect(await held(), `directive ${id}'s result held back`).toBe(true), { timeout: 10_000, interval: 10 });
}

async function nodeOnline(site: string, name: string, tier: "root" | "sudo" | "unprivileged" = "root", group?: string) {
  const creds = await registerNode(site, { name, tier, group });
  return { creds, agent: await connectNode(site, creds) };
}

describe("directives", () => {
  it("runs a command on one node, waits, and returns the assembled output and exit code", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "echo hi" } });
    const d = await agent.next("directive");
    expect(d).toMatchObject({ action: "bash", params: { command: "echo hi", timeoutMs: 120000, login: true }, stream: true });
    answer(agent, d, ["hel", "lo\n"]);
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ id: d.id, status: "done", exitCode: 0, output: "hello\n", outputBytes: 6, requestedBy: "admin key" });
    expect(view.sentAt).not.toBeNull();
    expect(view.startedAt).not.toBeNull();
  });

  it("records a directive as started when its result is handled before its ack, and the late ack changes nothing", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "true" } });
    const d = await agent.next("directive");
    agent.send({ type: "result", directiveId: d.id, success: true, output: "", durationMs: 1, exitCode: 0, chunks: 0 });
    agent.send({ type: "directive_ack", directiveId: d.id });
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ id: d.id, status: "done", exitCode: 0 });
    expect(view.startedAt).not.toBeNull();
    const again = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json());
    expect(again).toMatchObject({ status: "done", startedAt: view.startedAt, endedAt: view.endedAt });
  });

  it("passes a request for a plain non-login shell to the node, and refuses a login flag that is not a boolean", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const bad = await post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "id", login: "false" } });
    expect(bad.status).toBe(400);
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "id", login: false } });
    const d = await agent.next("directive");
    expect(d).toMatchObject({ action: "bash", params: { command: "id", login: false } });
    answer(agent, d, ["uid=0\n"]);
    expect(DirectiveView.parse(await (await pending).json())).toMatchObject({ status: "done", params: { login: false } });
  });

  it("streams chunks in order as server-sent events, then the result", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "seq 3" } }, "text/event-stream");
    const d = await agent.next("directive");
    answer(agent, d, ["1\n", "2\n", "3\n"]);
    const res = await pending;
    expect(res.headers.get("Content-Type")).toContain("text/event-stream");
    const events = await readEvents(res);
    const seqs = events.flatMap((e) => (e.event === "chunk" ? [e.seq] : []));
    expect(seqs.sort()).toEqual([0, 1, 2]);
    expect(events.at(-1)).toMatchObject({ event: "result", directive: { status: "done", output: "1\n2\n3\n" } });
    expect(events.findIndex((e) => e.event === "result")).toBeGreaterThan(events.findIndex((e) => e.event === "chunk"));
  });

  it("ignores repeated chunks and puts late ones in order", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "x" } });
    const d = await agent.next("directive");
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 0, chunk: "a" });
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 0, chunk: "a" });
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 2, chunk: "c" });
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 1, chunk: "b" });
    agent.send({ type: "result", directiveId: d.id, success: true, output: "abc", durationMs: 1, exitCode: 0, chunks: 3 });
    const view = DirectiveView.parse(await (await pending).json());
    expect(view.output).toBe("abc");
  });

  it("holds a result that overtook its chunks until they arrive", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "x" } });
    const d = await agent.next("directive");
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 0, chunk: "first " });
    agent.send({ type: "result", directiveId: d.id, success: true, output: "first second", durationMs: 1, exitCode: 0, chunks: 2 });
    await untilHeld(site, d.id);
    const during = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json());
    expect(during.status).toBe("running");
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 1, chunk: "second" });
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ status: "done", output: "first second", truncated: false });
  });

  it("records a held result after the grace period when chunks never come, saying so", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "x" } });
    const d = await agent.next("directive");
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 0, chunk: "only" });
    agent.send({ type: "result", directiveId: d.id, success: true, output: "only more", durationMs: 1, exitCode: 0, chunks: 2 });
    // The grace period runs from when the hub held the result: move time on only once it has.
    await untilHeld(site, d.id);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3_000);
    agent.send({ type: "heartbeat", agentId: "n1" });
    await agent.next("heartbeat_ack");
    await runDurableObjectAlarm(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)));
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ status: "done", output: "only", truncated: true, error: "1 output chunk(s) never arrived" });
  });

  it("refuses on the hub what the node's tier forbids, without sending it", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "sandboxed", "unprivileged");
    const shell = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/sandboxed/directives`, { action: "bash", params: { command: "id" } })).json());
    expect(shell).toMatchObject({ status: "refused", errorCode: "tier_refused" });
    expect(shell.error).toContain("not allowed at tier unprivileged");
    const escape = DirectiveView.parse(
      await (await post(`/api/sites/${site}/nodes/sandboxed/directives`, { action: "read", params: { path: "/tmp/cortex-sandbox/../../etc/passwd" } })).json(),
    );
    expect(escape.status).toBe("refused");
    expect(escape.error).toContain("outside the sandbox");
    expect(agent.take("directive")).toHaveLength(0);
  });

  it("checks an unprivileged node's paths against the sandbox its agent reported", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "boxed", tier: "unprivileged" });
    const agent = await connectNode(site, creds, { tier: "unprivileged", sandboxRoot: "/srv/jail" });
    const inside = post(`/api/sites/${site}/nodes/boxed/directives`, { action: "read", params: { path: "/srv/jail/notes.txt" } });
    answer(agent, await agent.next("directive"), ["1\tok\n"]);
    expect(DirectiveView.parse(await (await inside).json()).status).toBe("done");
    const outside = DirectiveView.parse(
      await (await post(`/api/sites/${site}/nodes/boxed/directives`, { action: "read", params: { path: "/tmp/cortex-sandbox/x" } })).json(),
    );
    expect(outside).toMatchObject({ status: "refused", errorCode: "tier_refused" });
    expect(outside.error).toContain("outside the sandbox /srv/jail");
  });

  it("refuses sudo-tier file actions under /etc and sudo for anything but package managers", async () => {
    const site = freshSite();
    await nodeOnline(site, "ops", "sudo");
    const write = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/ops/directives`, { action: "write", params: { path: "/etc/hosts", content: "x" } })).json());
    expect(write.status).toBe("refused");
    const sudo = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/ops/directives`, { action: "bash", params: { command: "sudo rm -rf /" } })).json());
    expect(sudo.status).toBe("refused");
  });

  it("rejects invalid params with 400 and records nothing", async () => {
    const site = freshSite();
    await nodeOnline(site, "n1");
    const res = await post(`/api/sites/${site}/nodes/n1/directives`, { action: "read", params: { path: "relative/path" } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_params");
    expect((await post(`/api/sites/${site}/nodes/n1/directives`, { action: "format_disk", params: {} })).status).toBe(400);
    const list = DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives`)).json());
    expect(list.directives).toHaveLength(0);
  });

  it("refuses bad params the same on an action's first directive and on later ones, sends nothing and records nothing", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const bad: { body: unknown; code: string }[] = [
      { body: { action: "format_disk", params: {} }, code: "invalid_body" },
      { body: { action: "glob", params: { pattern: 7, path: "/tmp" } }, code: "invalid_params" },
      { body: { action: "glob", params: { pattern: "*", path: "tmp" } }, code: "invalid_params" },
      { body: { action: "edit", params: { path: "/tmp/a", oldString: "x".repeat(768 * 1024 + 1), newString: "" } }, code: "invalid_params" },
      { body: { action: "run.launch", params: { command: "sleep 1", stallTimeoutMs: -5 } }, code: "invalid_params" },
      { body: { action: "disk.clean", params: {} }, code: "invalid_params" },
    ];
    for (const round of ["first", "later"]) {
      for (const { body, code } of bad) {
        const res = await post(`/api/sites/${site}/nodes/n1/directives`, body);
        expect(res.status, `${JSON.stringify(body).slice(0, 80)} (${round})`).toBe(400);
        expect(((await res.json()) as { error: { code: string } }).error.code, round).toBe(code);
      }
    }
    expect(agent.received.filter((m) => typeof m !== "string" && m.type === "directive")).toHaveLength(0);
    const list = DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives`)).json());
    expect(list.directives).toHaveLength(0);
  });

  it("fails at once as offline when the node is not connected, and 404s unknown nodes", async () => {
    const site = freshSite();
    await registerNode(site, { name: "sleeping", tier: "root" });
    const view = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/sleeping/directives`, { action: "bash", params: { command: "x" } })).json());
    expect(view).toMatchObject({ status: "failed", errorCode: "offline" });
    expect((await post(`/api/sites/${site}/nodes/ghost/directives`, { action: "bash", params: { command: "x" } })).status).toBe(404);
  });

  it("marks in-flight directives lost when their node drops, never re-sending them", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "flaky");
    const pending = post(`/api/sites/${site}/nodes/flaky/directives`, { action: "bash", params: { command: "sleep 100" } });
    const d = await agent.next("directive");
    agent.send({ type: "directive_ack", directiveId: d.id });
    agent.ws.close(1001, "gone");
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ status: "lost", errorCode: "lost" });
    const again = await connectNode(site, (await (await api(`/api/sites/${site}/nodes/flaky/rekey`, { method: "POST" })).json()) as never);
    await new Promise((r) => setTimeout(r, 50));
    expect(again.take("directive")).toHaveLength(0);
  });

  it("keeps a result that arrives after its directive was marked lost, as a late result beside the lost record", async () => {
    const site = freshSite();
    const { creds, agent } = await nodeOnline(site, "late");
    const pending = post(`/api/sites/${site}/nodes/late/directives`, { action: "bash", params: { command: "sleep 5; echo done" } });
    const d = await agent.next("directive");
    agent.send({ type: "directive_ack", directiveId: d.id });
    agent.ws.close(1001, "network gone");
    expect(DirectiveView.parse(await (await pending).json())).toMatchObject({ status: "lost", lateResult: null });

    // The agent kept running it; once back, it delivers the result it held.
    const back = await connectNode(site, creds);
    back.send({ type: "result", directiveId: d.id, success: true, output: "done\n", durationMs: 5000, exitCode: 0, chunks: 1 });
    const seen = async () => DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json());
    await vi.waitFor(async () => expect((await seen()).lateResult).not.toBeNull());
    const view = await seen();
    expect(view).toMatchObject({ status: "lost", errorCode: "lost", lateResult: { success: true, exitCode: 0, output: "done\n", truncated: false, error: null } });

    // Only the first late result counts, and nobody else's node can write one.
    back.send({ type: "result", directiveId: d.id, success: false, output: "second", durationMs: 1, exitCode: 9 });
    const other = await nodeOnline(site, "other");
    other.agent.send({ type: "result", directiveId: d.id, success: false, output: "forged", durationMs: 1, exitCode: 7 });
    await new Promise((r) => setTimeout(r, 100));
    expect((await seen()).lateResult).toMatchObject({ output: "done\n", exitCode: 0 });
    const activity = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=directive`)).json());
    // Its one entry in the log now says so, still a warning: nobody saw it end when it did.
    const entries = activity.entries.filter((e) => e.directiveId === d.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ level: "warn", data: expect.objectContaining({ late: true, lateSuccess: true, lateExitCode: 0 }) });
    expect(entries[0]!.message).toMatch(/: lost: .*; it finished after all: succeeded \(exit 0\)$/);
  });

  it("ignores a second result for a directive that already ended normally", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "twice");
    const pending = post(`/api/sites/${site}/nodes/twice/directives`, { action: "bash", params: { command: "echo once" } });
    const d = await agent.next("directive");
    answer(agent, d, ["once\n"]);
    expect(DirectiveView.parse(await (await pending).json())).toMatchObject({ status: "done", output: "once\n" });
    agent.send({ type: "result", directiveId: d.id, success: false, output: "again", durationMs: 1, exitCode: 3 });
    await new Promise((r) => setTimeout(r, 100));
    const view = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json());
    expect(view).toMatchObject({ status: "done", output: "once\n", exitCode: 0, lateResult: null });
  });

  it("times a directive out on the hub's deadline and tells the agent to cancel it", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "slow");
    const pending = post(`/api/sites/${site}/nodes/slow/directives`, { action: "bash", params: { command: "sleep 100" }, timeoutMs: 1000 });
    const d = await agent.next("directive");
    expect(d.timeoutMs).toBe(1000);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 1_500);
    agent.send({ type: "heartbeat", agentId: "slow" });
    await agent.next("heartbeat_ack");
    await runDurableObjectAlarm(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)));
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ status: "timed_out", errorCode: "timeout" });
    expect((await agent.next("cancel")).directiveId).toBe(d.id);
  });

  it("keeps a sweep scheduled no later than each directive's deadline, also after an alarm has run", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "slow");
    const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
    const alarmAt = () => runInDurableObject(stub, (_hub, state) => state.storage.getAlarm());
    vi.useFakeTimers({ toFake: ["Date"] });
    for (let round = 0; round < 3; round++) {
      const pending = post(`/api/sites/${site}/nodes/slow/directives`, { action: "bash", params: { command: "sleep 100" }, timeoutMs: 1000 });
      const d = await agent.next("directive");
      const deadline = Date.now() + 1000;
      // The alarm is set just after the directive goes out; wait for it rather than race it.
      for (let i = 0; i < 50 && ((await alarmAt()) ?? Infinity) > deadline; i++) await new Promise((r) => setTimeout(r, 10));
      expect(await alarmAt()).toBeLessThanOrEqual(deadline);
      vi.setSystemTime(Date.now() + 1_500);
      agent.send({ type: "heartbeat", agentId: "slow" });
      await agent.next("heartbeat_ack");
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      expect(DirectiveView.parse(await (await pending).json())).toMatchObject({ id: d.id, status: "timed_out" });
      expect((await agent.next("cancel")).directiveId).toBe(d.id);
      for (const type of ["directive", "heartbeat_ack", "cancel"] as const) agent.take(type);
    }
  });

  it("cancels a running directive: the agent is told and the record says cancelled; a late result changes nothing", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "sleep 100" } });
    const d = await agent.next("directive");
    agent.send({ type: "directive_ack", directiveId: d.id });
    const cancelled = await post(`/api/sites/${site}/directives/${d.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect((await agent.next("cancel")).directiveId).toBe(d.id);
    expect(DirectiveView.parse(await (await pending).json()).status).toBe("cancelled");
    agent.send({ type: "result", directiveId: d.id, success: true, output: "late", durationMs: 1, exitCode: 0 });
    const shown = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json());
    expect(shown.status).toBe("cancelled");
    expect((await post(`/api/sites/${site}/directives/${d.id}/cancel`, {})).status).toBe(409);
  });

  it("ignores results a node sends for another node's directive", async () => {
    const site = freshSite();
    const { agent: a } = await nodeOnline(site, "a");
    const { agent: b } = await nodeOnline(site, "b");
    const pending = post(`/api/sites/${site}/nodes/a/directives`, { action: "bash", params: { command: "x" } });
    const d = await a.next("directive");
    b.send({ type: "result", directiveId: d.id, success: true, output: "forged", durationMs: 1, exitCode: 0 });
    await new Promise((r) => setTimeout(r, 30));
    answer(a, d, ["real"]);
    expect(DirectiveView.parse(await (await pending).json()).output).toBe("real");
  });

  it("fans out to a list with one offline and one refusing node, honouring concurrency, and aggregates", async () => {
    const site = freshSite();
    const one = await nodeOnline(site, "one");
    const two = await nodeOnline(site, "two");
    await registerNode(site, { name: "down", tier: "root" });
    await nodeOnline(site, "jail", "unprivileged");
    const pending = post(
      `/api/sites/${site}/fanouts`,
      { target: { nodes: ["one", "two", "down", "jail"] }, action: "bash", params: { command: "hostname" }, concurrency: 1 },
      "text/event-stream",
    );
    const first = await one.agent.next("directive");
    await new Promise((r) => setTimeout(r, 50));
    expect(two.agent.take("directive")).toHaveLength(0);
    answer(one.agent, first, ["one\n"]);
    const second = await two.agent.next("directive");
    answer(two.agent, second, ["two\n"], 3);
    const res = await pending;
    expect(res.headers.get("X-Cortex-Fanout")).toMatch(/^f-/);
    const events = await readEvents(res);
    const results = events.flatMap((e) => (e.event === "result" ? [e.directive] : []));
    expect(results.map((r) => [r.nodeId, r.status]).sort()).toEqual([
      ["down", "failed"],
      ["jail", "refused"],
      ["one", "done"],
      ["two", "failed"],
    ]);
    const last = events.at(-1)!;
    expect(last.event).toBe("aggregate");
    expect(FanOutAggregate.parse(last.event === "aggregate" ? last.aggregate : null)).toMatchObject({
      total: 4,
      succeeded: 1,
      failed: 1,
      offline: 1,
      refused: 1,
    });
  });

  it("fans out to all online nodes or a group and returns JSON when not streaming", async () => {
    const site = freshSite();
    const a = await nodeOnline(site, "a", "root", "gpu");
    const b = await nodeOnline(site, "b", "root", "cpu");
    await registerNode(site, { name: "offline", tier: "root", group: "gpu" });
    const all = post(`/api/sites/${site}/fanouts`, { target: { all: true }, action: "bash", params: { command: "true" } });
    answer(a.agent, await a.agent.next("directive"), []);
    answer(b.agent, await b.agent.next("directive"), []);
    const body = (await (await all).json()) as { aggregate: FanOutAggregate; directives: DirectiveView[] };
    expect(body.aggregate).toMatchObject({ total: 2, succeeded: 2, offline: 0 });
    a.agent.take("directive");
    const group = post(`/api/sites/${site}/fanouts`, { target: { group: "gpu" }, action: "bash", params: { command: "true" } });
    answer(a.agent, await a.agent.next("directive"), []);
    const g = (await (await group).json()) as { aggregate: FanOutAggregate };
    expect(g.aggregate).toMatchObject({ total: 2, succeeded: 1, offline: 1 });
    expect((await post(`/api/sites/${site}/fanouts`, { target: { group: "none" }, action: "bash", params: { command: "true" } })).status).toBe(404);
    expect((await post(`/api/sites/${site}/fanouts`, { target: { nodes: ["ghost"] }, action: "bash", params: { command: "true" } })).status).toBe(404);
  });

  it("never targets a deregistered node: named, it is unknown; in a group or among all, it is not there", async () => {
    const site = freshSite();
    const a = await nodeOnline(site, "a", "root", "gpu");
    const gone = await registerNode(site, { name: "gone", tier: "root", group: "gpu" });
    const left = await registerNode(site, { name: "left", tier: "root", group: "old" });
    for (const id of [gone.id, left.id]) expect((await api(`/api/sites/${site}/nodes/${id}`, { method: "DELETE" })).status).toBe(200);

    const named = await post(`/api/sites/${site}/fanouts`, { target: { nodes: ["a", gone.id, "a"] }, action: "bash", params: { command: "true" } });
    expect(named.status).toBe(404);
    expect(((await named.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "node_not_found", message: `unknown node(s): ${gone.id}` });
    expect((await post(`/api/sites/${site}/fanouts`, { target: { group: "old" }, action: "bash", params: { command: "true" } })).status).toBe(404);

    for (const target of [{ group: "gpu" }, { all: true }, { nodes: ["a", "a"] }]) {
      const pending = post(`/api/sites/${site}/fanouts`, { target, action: "bash", params: { command: "true" } });
      answer(a.agent, await a.agent.next("directive"), []);
      const body = (await (await pending).json()) as { aggregate: FanOutAggregate; directives: DirectiveView[] };
      expect(body.aggregate, JSON.stringify(target)).toMatchObject({ total: 1, succeeded: 1, offline: 0, skippedOffline: 0 });
      expect(body.directives.map((d) => d.nodeId)).toEqual(["a"]);
      a.agent.take("directive");
    }
  });

  it("cancels a whole fan-out, including members still queued", async () => {
    const site = freshSite();
    const a = await nodeOnline(site, "a");
    await nodeOnline(site, "b");
    const pending = post(`/api/sites/${site}/fanouts`, { target: { all: true }, action: "bash", params: { command: "sleep 9" }, concurrency: 1 }, "text/event-stream");
    const res = await pending;
    const fanoutId = res.headers.get("X-Cortex-Fanout")!;
    await a.agent.next("directive").catch(() => null);
    const cancel = await post(`/api/sites/${site}/fanouts/${fanoutId}/cancel`, {});
    expect(FanOutAggregate.parse(await cancel.json())).toMatchObject({ total: 2, cancelled: 2 });
    const events = await readEvents(res);
    expect(events.at(-1)).toMatchObject({ event: "aggregate", aggregate: { cancelled: 2 } });
  });

  it("records a finished long run once, however often the agent reports it, and acks every report", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "trainer");
    const launching = post(`/api/sites/${site}/nodes/trainer/directives`, { action: "run.launch", params: { command: "train" } });
    const launch = await agent.next("directive");
    agent.send({ type: "result", directiveId: launch.id, success: true, output: "", durationMs: 1, exitCode: null, data: { kind: "run", runId: "run-abc" } });
    await launching;
    const report = {
      type: "run_complete",
      runId: "run-abc",
      directiveId: launch.id,
      state: "done",
      exitCode: 0,
      outputTail: "epoch 10\n",
      startedAt: 1,
      endedAt: 2,
    };
    agent.send(report);
    expect((await agent.next("run_complete_ack")).runId).toBe("run-abc");
    agent.take("run_complete_ack");
    agent.send(report);
    await agent.next("run_complete_ack");
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=trainer&kind=directive`)).json());
    // The launch's one entry tells how the run ended: rewritten once, not again for the repeated report.
    const ended = log.entries.filter((e) => e.data?.runId === "run-abc" && e.data?.runState !== undefined);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ directiveId: launch.id, level: "info" });
    expect(ended[0]!.message).toMatch(/; run run-abc ended done \(exit 0\)/);
  });

  it("lists directive history with filters and paging, and logs every directive", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    for (let i = 0; i < 3; i++) {
      const p = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: `echo ${i}` } });
      answer(agent, await agent.next("directive"), [`${i}\n`]);
      agent.take("directive");
      await p;
    }
    const read = post(`/api/sites/${site}/nodes/n1/directives`, { action: "read", params: { path: "/etc/hostname" } });
    answer(agent, await agent.next("directive"), ["1\tbox\n"]);
    await read;
    const page = DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives?action=bash&limit=2`)).json());
    expect(page.directives).toHaveLength(2);
    expect(page.directives[0]!.output).toBeNull();
    const rest = DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives?action=bash&before=${page.nextBefore}`)).json());
    expect(rest.directives).toHaveLength(1);
    const byStatus = DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives?status=done`)).json());
    expect(byStatus.directives).toHaveLength(4);
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=directive`)).json());
    expect(log.entries.filter((e) => e.directiveId !== null && e.data?.status === "done")).toHaveLength(4);
    expect((await api(`/api/sites/${site}/directives/d-not-an-id`)).status).toBe(400);
  });

  it("keeps the signal that killed a command, and refuses a result whose signal is not a signal name", async () => {
    const site = freshSite();
    const { agent } = await nodeOnline(site, "n1");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "bash", params: { command: "sleep 60" } });
    const d = await agent.next("directive");
    agent.send({ type: "result", directiveId: d.id, success: false, output: "", durationMs: 5, exitCode: null, signal: "rm -rf /", error: "killed" });
    expect((await agent.next("error")).code).toBe("invalid_message");
    agent.send({ type: "result", directiveId: d.id, success: false, output: "", durationMs: 5, exitCode: null, signal: "SIGKILL", error: "killed by SIGKILL" });
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ status: "failed", exitCode: null, signal: "SIGKILL", error: "killed by SIGKILL" });
    expect(DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${d.id}`)).json()).signal).toBe("SIGKILL");
  });

  it("requires the API key for directive routes", async () => {
    const res = await SELF.fetch(`${BASE}/api/sites/x/directives`, { headers: { Authorization: `Bearer ${ADMIN_KEY}x` } });
    expect(res.status).toBe(401);
  });
});

describe("a list of directives", () => {
  it("carries no late result's output and no image's bytes, which one directive read whole still has", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "late", id: "late", tier: "root" });
    const agent = await connectNode(site, creds);
    const post = (command: string) => api(`/api/sites/${site}/nodes/late/directives`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command } }) });
    // Six answered with a 600 KB "image", six lost and then answered late with 500 KiB of output.
    for (let i = 0; i < 6; i++) {
      const pending = post(`shot ${i}`);
      const d = await agent.next("directive");
      agent.take("directive");
      agent.send({ type: "result", directiveId: d.id, success: true, output: "", durationMs: 1, exitCode: 0, data: { kind: "image", mediaType: "image/png", base64: "A".repeat(600_000) } });
      expect((await pending).status).toBe(200);
    }
    const lost = Array.from({ length: 6 }, (_, i) => post(`sleep 100 #${i}`));
    await expect.poll(() => agent.received.filter((m) => typeof m !== "string" && m.type === "directive").length).toBe(6);
    const ids = agent.take("directive").map((d) => d.id);
    agent.ws.close(1001, "gone");
    for (const p of lost) expect(DirectiveView.parse(await (await p).json()).status).toBe("lost");
    const back = await connectNode(site, creds);
    for (const id of ids) back.send({ type: "result", directiveId: id, success: true, output: "B".repeat(500 * 1024), durationMs: 1, exitCode: 0 });
    const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
    await expect
      .poll(() => runInDurableObject(stub, (_hub, state) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM directives WHERE late_result IS NOT NULL").one().n))
      .toBe(6);

    const res = await api(`/api/sites/${site}/directives?limit=500`);
    const text = await res.text();
    expect(text.length).toBeLessThan(100_000);
    const list = DirectiveListResponse.parse(JSON.parse(text));
    expect(list.directives.filter((d) => d.lateResult !== null).map((d) => d.lateResult!.output)).toEqual(Array(6).fill(""));
    expect(list.directives.filter((d) => d.data?.kind === "image").map((d) => d.data?.kind === "image" && d.data.base64)).toEqual(Array(6).fill(""));
    const one = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${ids[0]}`)).json());
    expect(one.lateResult!.output).toHaveLength(500 * 1024);
  });

  it("reads none of the listed directives' output: 20 results of 512 KiB cost a list of 500 a few KB of row text", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "n1", id: "n1", tier: "root" });
    const agent = await connectNode(site, creds);
    const big = "x".repeat(512 * 1024 - 16);
    for (let i = 0; i < 20; i++) {
      const pending = api(`/api/sites/${site}/nodes/n1/directives`, { method: "POST", body: JSON.stringify({ action: "read", params: { path: "/var/log/syslog" } }) });
      const d = await agent.next("directive");
      agent.take("directive");
      agent.send({ type: "result", directiveId: d.id, success: true, output: big, durationMs: 5, exitCode: 0, chunks: 0 });
      expect((await pending).status).toBe(200);
    }
    const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
    // The text every statement hands the object while one list request runs.
    const read = { chars: 0 };
    const restore = await runInDurableObject(stub, (_hub, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      sql.exec = ((query: string, ...bindings: SqlStorageValue[]) => {
        const rows = exec(query, ...bindings).toArray();
        for (const row of rows) for (const v of Object.values(row)) if (typeof v === "string") read.chars += v.length;
        return { toArray: () => rows, one: () => rows[0], [Symbol.iterator]: () => rows[Symbol.iterator](), rowsWritten: 0, rowsRead: rows.length } as never;
      }) as typeof sql.exec;
      return () => (sql.exec = exec);
    });
    const res = await api(`/api/sites/${site}/directives?limit=500`);
    await runInDurableObject(stub, () => restore());
    const list = DirectiveListResponse.parse(await res.json());
    expect(list.directives).toHaveLength(20);
    expect(list.directives.every((d) => d.output === null && d.outputBytes > 500_000)).toBe(true);
    expect(read.chars).toBeLessThan(100_000);
  });
});
