import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DirectiveStore } from "../../durable-objects/site-hub/directive-store.ts";
import { MAX_EVENT_IDS_PER_NODE, ProcessStore } from "../../durable-objects/site-hub/process-store.ts";
import { ActivityPage, DirectiveView } from "../../protocol/api.ts";
import { MAX_STORED_CHUNKS } from "../../protocol/limits.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { NODE_ACTIVITY_PER_HOUR } from "../../durable-objects/site-hub/node-activity-quota.ts";
import { siteState, siteStorageBytes } from "./fuzz-support.ts";
import { api, connectNode, FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * A node token lets a machine report on its own work, nothing more: reports about directives that do not exist
 * or were sent to another node are refused and change nothing, and what one node can make the hub store is
 * bounded (run reports per launch, chunks per directive, activity entries per hour).
 */

function post(site: string, path: string, body: unknown): Promise<Response> {
  return api(`/api/sites/${site}${path}`, { method: "POST", body: JSON.stringify(body) });
}

async function twoNodes() {
  const site = freshSite();
  const creds = await registerNode(site, { name: "mine", tier: "root" });
  const mine = await connectNode(site, creds, { heartbeatMs: 60_000 });
  const theirs = await connectNode(site, await registerNode(site, { name: "theirs", tier: "root" }), { heartbeatMs: 60_000 });
  return { site, mine, theirs, creds };
}

/** Starts a directive on a node and returns the frame the node received (the request stays pending). */
async function started(site: string, agent: FakeAgent, nodeId: string, body: unknown): Promise<{ d: DirectiveMessage; done: Promise<Response> }> {
  const done = post(site, `/nodes/${nodeId}/directives`, body);
  const d = await agent.next("directive");
  agent.take("directive");
  return { d, done };
}

/** Sends a frame and waits for the hub's error about it. */
async function refused(agent: FakeAgent, frame: unknown): Promise<{ code: unknown; message: string }> {
  agent.take("error");
  agent.send(frame);
  const error = await agent.next("error");
  agent.take("error");
  return { code: error.code, message: error.message };
}

function runReport(directiveId: string, runId: string, extra: Record<string, unknown> = {}) {
  return { type: "run_complete", runId, directiveId, state: "done", exitCode: 0, outputTail: "tail\n", startedAt: 1, endedAt: 2, ...extra };
}

describe("a node reporting on work that is not its own", () => {
  it("cannot record a long run for a directive that does not exist: refused, acknowledged, nothing stored", async () => {
    const { site, mine } = await twoNodes();
    const before = await siteState(site);
    expect(await refused(mine, runReport("d-00000000-0000-0000-0000-000000000000", "run-ghost"))).toMatchObject({ code: "not_yours" });
    expect(mine.take("run_complete_ack").map((a) => a.runId)).toEqual(["run-ghost"]);
    expect(await siteState(site)).toBe(before);
  });

  it("cannot put a run on another node's launch, on its own shell command, or a second run on its own launch", async () => {
    const { site, mine, theirs } = await twoNodes();
    const theirLaunch = await started(site, theirs, "theirs", { action: "run.launch", params: { command: "train" } });
    theirs.send({ type: "result", directiveId: theirLaunch.d.id, success: true, output: "", durationMs: 1, data: { kind: "run", runId: "run-theirs" } });
    await theirLaunch.done;
    const myShell = await started(site, mine, "mine", { action: "bash", params: { command: "true" } });
    mine.send({ type: "result", directiveId: myShell.d.id, success: true, output: "", durationMs: 1, exitCode: 0 });
    await myShell.done;
    const myLaunch = await started(site, mine, "mine", { action: "run.launch", params: { command: "train" } });
    mine.send({ type: "result", directiveId: myLaunch.d.id, success: true, output: "", durationMs: 1, data: { kind: "run", runId: "run-mine" } });
    await myLaunch.done;

    const before = await siteState(site);
    expect((await refused(mine, runReport(theirLaunch.d.id, "run-theirs"))).message).toContain("was not sent to this node");
    expect((await refused(mine, runReport(myShell.d.id, "run-x"))).message).toContain("launches no run");
    expect((await refused(mine, runReport(myLaunch.d.id, "run-other"))).message).toContain("launched run run-mine, not run-other");
    expect(await siteState(site)).toBe(before);

    // The real report is still recorded, once.
    mine.take("run_complete_ack");
    mine.send(runReport(myLaunch.d.id, "run-mine"));
    await mine.next("run_complete_ack");
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=directive`)).json());
    // A run's end is told by its launch's own entry.
    const ended = log.entries.filter((e) => e.data?.runState !== undefined);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ directiveId: myLaunch.d.id, nodeId: "mine" });
  });

  it("a launch that was lost before its result accepts one run report, and only one", async () => {
    const { site, mine } = await twoNodes();
    const launch = await started(site, mine, "mine", { action: "run.launch", params: { command: "train" }, timeoutMs: 60_000 });
    await post(site, `/directives/${launch.d.id}/cancel`, {});
    await launch.done;
    mine.send(runReport(launch.d.id, "run-first"));
    await mine.next("run_complete_ack");
    expect((await refused(mine, runReport(launch.d.id, "run-second"))).message).toContain("already reported run run-first");
  });

  it("cannot acknowledge, stream into or finish another node's directive", async () => {
    const { site, mine, theirs } = await twoNodes();
    const theirRun = await started(site, theirs, "theirs", { action: "bash", params: { command: "echo real" } });
    const before = await siteState(site);
    const id = theirRun.d.id;
    for (const frame of [
      { type: "directive_ack", directiveId: id },
      { type: "stream_chunk", directiveId: id, seq: 0, chunk: "forged output\n" },
      { type: "result", directiveId: id, success: true, output: "forged", durationMs: 1, exitCode: 0 },
      { type: "result", directiveId: "d-no-such-directive", success: true, output: "x", durationMs: 1 },
    ]) {
      expect((await refused(mine, frame)).code).toBe("not_yours");
    }
    expect(await siteState(site)).toBe(before);

    theirs.send({ type: "stream_chunk", directiveId: id, seq: 0, chunk: "real\n" });
    theirs.send({ type: "result", directiveId: id, success: true, output: "real\n", durationMs: 1, exitCode: 0, chunks: 1 });
    const view = DirectiveView.parse(await (await theirRun.done).json());
    expect(view).toMatchObject({ status: "done", output: "real\n", exitCode: 0 });
  });

  it("is cut off after too many refused reports, like any other protocol violation", async () => {
    const { mine } = await twoNodes();
    for (let i = 0; i < 25 && !mine.closed; i++) mine.send({ type: "directive_ack", directiveId: `d-forged-${i}` });
    expect((await mine.waitClose()).code).toBe(4011);
  });
});

describe("what one node can make the hub store", () => {
  it("50 frames of 900 kB are refused at the door: the site's storage does not grow", async () => {
    const { site, mine, creds } = await twoNodes();
    const launch = await started(site, mine, "mine", { action: "run.launch", params: { command: "train" } });
    mine.send({ type: "result", directiveId: launch.d.id, success: true, output: "", durationMs: 1, data: { kind: "run", runId: "run-big" } });
    await launch.done;
    const bytes = await siteStorageBytes(site);
    const tail = "x".repeat(900 * 1024);
    let agent = mine;
    for (let i = 0; i < 50; i++) {
      if (agent.closed) agent = await connectNode(site, creds, { heartbeatMs: 60_000 });
      agent.send(runReport(launch.d.id, "run-big", { outputTail: tail }));
    }
    await agent.waitClose().catch(() => undefined);
    const grown = (await siteStorageBytes(site)) - bytes;
    expect(grown).toBeLessThan(64 * 1024);
  });

  it("keeps at most the stored caps of a directive's output however many chunks its node sends", async () => {
    const { site, mine } = await twoNodes();
    const run = await started(site, mine, "mine", { action: "bash", params: { command: "yes" } });
    // Through the socket this would take minutes here; the store's rule is the same whoever calls it.
    const total = MAX_STORED_CHUNKS + 500;
    const stored = await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
      const store = new DirectiveStore(state.storage.sql);
      const target = store.chunkTarget(run.d.id)!;
      for (let seq = 0; seq < total; seq++) store.appendChunk(target, seq, "y\n");
      store.flushChunks(target);
      return state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM directive_chunks WHERE directive_id = ?", run.d.id).one().n;
    });
    expect(stored).toBe(MAX_STORED_CHUNKS);
    mine.send({ type: "result", directiveId: run.d.id, success: true, output: "", durationMs: 1, exitCode: 0, chunks: total });
    const view = DirectiveView.parse(await (await run.done).json());
    expect(view.truncated).toBe(true);
    expect(view.outputBytes).toBe(total * 2);
    expect(view.output!.length).toBe(MAX_STORED_CHUNKS * 2);
  });

  it("writes at most its hourly quota of activity entries, then one line saying the rest are dropped", async () => {
    const { site, mine } = await twoNodes();
    for (let i = 0; i < NODE_ACTIVITY_PER_HOUR + 100; i++) mine.send({ type: "error", message: `noise ${i}` });
    mine.send({ type: "register", agentId: "mine", name: "mine", capabilities: [], version: "x" });
    await mine.next("error");
    const page = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=mine&limit=500`)).json());
    const noise = page.entries.filter((e) => e.message.includes("reported: noise"));
    expect(noise.length).toBeLessThan(NODE_ACTIVITY_PER_HOUR);
    expect(page.entries.filter((e) => e.message.includes("further ones are dropped"))).toHaveLength(1);
    // Another node's entries are unaffected.
    const other = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=theirs`)).json());
    expect(other.entries.some((e) => e.message.includes("connected"))).toBe(true);
  });

  it("keeps a bounded number of supervised-process events per node, and their log lines within its quota", async () => {
    const { site, mine } = await twoNodes();
    const event = (i: number) => ({ id: `pe-${String(i).padStart(8, "0")}-0000-0000-0000-000000000000`, name: "web", kind: "crashed", at: i, exitCode: 1 });
    for (let frame = 0; frame < 3; frame++) {
      mine.send({ type: "process_events", events: Array.from({ length: 100 }, (_, i) => event(frame * 100 + i)) });
      await mine.next("process_events_ack");
      mine.take("process_events_ack");
    }
    const page = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=mine&limit=500`)).json());
    expect(page.entries.filter((e) => e.message.includes("process web")).length).toBeLessThan(NODE_ACTIVITY_PER_HOUR);
    expect(page.entries.filter((e) => e.message.includes("further ones are dropped"))).toHaveLength(1);

    const kept = await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) => {
      const store = new ProcessStore(state.storage.sql);
      for (let i = 1000; i < 1000 + MAX_EVENT_IDS_PER_NODE + 1000; i++) store.recordEvent("mine", event(i) as never, Date.now());
      return state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM process_events WHERE node_id = 'mine'").one().n;
    });
    expect(kept).toBeLessThanOrEqual(MAX_EVENT_IDS_PER_NODE + 500);
  });
});
