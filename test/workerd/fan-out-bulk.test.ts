import { describe, expect, it, vi } from "vitest";
import { DirectiveListResponse, DirectiveView, FanOutAggregate, NodeView } from "../../protocol/api.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { api, connectNode, FakeAgent, freshSite, registerNode } from "./support.ts";

/** Fan-outs admitted, sent and refilled in bulk, from the side of a caller or a node trying to get past them. */

function post(path: string, body: unknown, accept?: string): Promise<Response> {
  return api(path, { method: "POST", body: JSON.stringify(body), headers: accept ? { Accept: accept } : {} });
}

function answer(agent: FakeAgent, d: DirectiveMessage, output: string): void {
  agent.send({ type: "directive_ack", directiveId: d.id });
  agent.send({ type: "result", directiveId: d.id, success: true, output, durationMs: 1, exitCode: 0, chunks: 0 });
}

async function online(site: string, name: string): Promise<FakeAgent> {
  return connectNode(site, await registerNode(site, { name, tier: "root" }));
}

/** Lets frames in flight land before checking that something did not happen. */
const settle = () => new Promise((r) => setTimeout(r, 50));

/** Waits until the hub has seen a node's socket close, rather than guessing how long that takes. */
async function untilDisconnected(site: string, node: string): Promise<void> {
  const status = async () => NodeView.parse(await (await api(`/api/sites/${site}/nodes/${node}`)).json()).status;
  await vi.waitFor(async () => expect(await status()).toBe("disconnected"), { timeout: 10_000, interval: 10 });
}

/** A fan-out's aggregate and its members (by node name), as the API reports them. */
async function fanOutView(site: string, fanoutId: string): Promise<{ aggregate: FanOutAggregate; directives: DirectiveView[] }> {
  const aggregate = FanOutAggregate.parse(await (await api(`/api/sites/${site}/fanouts/${fanoutId}`)).json());
  return { aggregate, directives: await history(site, `?fanout=${fanoutId}`) };
}

/** A directive whole, with its output (the history leaves outputs out). */
async function directive(site: string, id: string): Promise<DirectiveView> {
  return DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${id}`)).json());
}

async function history(site: string, query = ""): Promise<DirectiveView[]> {
  const { directives } = DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives${query}`)).json());
  return directives.sort((x, y) => x.nodeId.localeCompare(y.nodeId));
}

describe("a fan-out admitted in bulk", () => {
  it("naming an unknown node among known ones is refused whole: nothing recorded, nothing sent", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const unknown = await post(`/api/sites/${site}/fanouts`, { target: { nodes: ["a", "ghost"] }, action: "bash", params: { command: "id" } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "node_not_found", message: expect.stringContaining("ghost") });
    // A name that is no node id at all (a path trick) fails validation before any node is looked at.
    const malformed = await post(`/api/sites/${site}/fanouts`, { target: { nodes: ["a", "../a"] }, action: "bash", params: { command: "id" } });
    expect(malformed.status).toBe(400);
    await settle();
    expect(a.take("directive")).toHaveLength(0);
    expect(await history(site)).toEqual([]);
  });

  it("records a member whose node dropped between admission and its turn as offline, never sent, and goes on", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    const c = await online(site, "c");
    const res = await post(`/api/sites/${site}/fanouts`, { target: { nodes: ["a", "b", "c"] }, action: "bash", params: { command: "hostname" }, concurrency: 1 }, "text/event-stream");
    const fanoutId = res.headers.get("X-Cortex-Fanout")!;
    const first = await a.next("directive");
    b.ws.close(1001, "gone");
    await untilDisconnected(site, "b");
    answer(a, first, "a\n");
    answer(c, await c.next("directive"), "c\n");
    await res.text();
    expect(b.take("directive")).toHaveLength(0);
    const { aggregate, directives } = await fanOutView(site, fanoutId);
    expect(aggregate).toMatchObject({ total: 3, succeeded: 2, offline: 1 });
    const dropped = directives.find((d) => d.nodeId === "b")!;
    expect(dropped).toMatchObject({ status: "failed", errorCode: "offline", sentAt: null });
    const others = await Promise.all(directives.filter((d) => d.nodeId !== "b").map((d) => directive(site, d.id)));
    expect(others.map((d) => [d.nodeId, d.status, d.output])).toEqual([
      ["a", "done", "a\n"],
      ["c", "done", "c\n"],
    ]);
  });

  it("refuses a result for a member from another node, or for another fan-out's member, and changes nothing", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    const one = post(`/api/sites/${site}/fanouts`, { target: { nodes: ["a"] }, action: "bash", params: { command: "x" } }, "text/event-stream");
    const two = post(`/api/sites/${site}/fanouts`, { target: { nodes: ["b"] }, action: "bash", params: { command: "y" } }, "text/event-stream");
    const [resOne, resTwo] = await Promise.all([one, two]);
    const da = await a.next("directive");
    const db = await b.next("directive");
    // b answers for a's member (another node, another fan-out); a answers b's: both forged, both ignored.
    b.send({ type: "result", directiveId: da.id, success: false, output: "forged", durationMs: 1, exitCode: 9 });
    a.send({ type: "result", directiveId: db.id, success: false, output: "forged", durationMs: 1, exitCode: 9 });
    await settle();
    for (const res of [resOne, resTwo]) {
      const { aggregate, directives } = await fanOutView(site, res.headers.get("X-Cortex-Fanout")!);
      expect(aggregate).toMatchObject({ total: 1, succeeded: 0, failed: 0 });
      expect(directives[0]).toMatchObject({ status: "sent", endedAt: null });
    }
    answer(a, da, "real a");
    answer(b, db, "real b");
    await Promise.all([resOne.text(), resTwo.text()]);
    const ended = await Promise.all([da.id, db.id].map((id) => directive(site, id)));
    expect(ended.map((d) => [d.nodeId, d.status, d.output, d.exitCode]).sort()).toEqual([
      ["a", "done", "real a", 0],
      ["b", "done", "real b", 0],
    ]);
  });

  it("never has more than its concurrency sent and unfinished, and refills each slot a result frees", async () => {
    const site = freshSite();
    const names = ["n1", "n2", "n3", "n4", "n5"];
    const agents = new Map<string, FakeAgent>();
    for (const name of names) agents.set(name, await online(site, name));
    const res = await post(`/api/sites/${site}/fanouts`, { target: { nodes: names }, action: "bash", params: { command: "true" }, concurrency: 2 }, "text/event-stream");
    const fanoutId = res.headers.get("X-Cortex-Fanout")!;
    const outstanding: [FakeAgent, DirectiveMessage][] = [];
    const take = () => {
      for (const agent of agents.values()) for (const d of agent.take("directive")) outstanding.push([agent, d as DirectiveMessage]);
    };
    // Waits for the slots a result freed to be refilled, then lets any extra send land before it is counted.
    const collect = async (expected: number) => {
      await vi.waitFor(
        () => {
          take();
          expect(outstanding.length).toBeGreaterThanOrEqual(expected);
        },
        { timeout: 10_000, interval: 10 },
      );
      await settle();
      take();
    };
    await collect(2);
    expect(outstanding).toHaveLength(2);
    let answered = 0;
    while (outstanding.length) {
      const [agent, d] = outstanding.shift()!;
      answer(agent, d, "");
      answered += 1;
      await collect(Math.min(2, names.length - answered));
      expect(outstanding.length).toBeLessThanOrEqual(2);
      expect(outstanding.length).toBe(Math.min(2, names.length - answered));
      const inFlight = (await fanOutView(site, fanoutId)).directives.filter((m) => m.status === "sent" || m.status === "running");
      expect(inFlight.length).toBeLessThanOrEqual(2);
    }
    await res.text();
    expect((await fanOutView(site, fanoutId)).aggregate).toMatchObject({ total: 5, succeeded: 5 });
  });

  it("cancelled mid-way ends the member in flight and the queued ones, keeps the one done, and sends nothing more", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    const c = await online(site, "c");
    const res = await post(`/api/sites/${site}/fanouts`, { target: { nodes: ["a", "b", "c"] }, action: "bash", params: { command: "sleep 9" }, concurrency: 1 }, "text/event-stream");
    const fanoutId = res.headers.get("X-Cortex-Fanout")!;
    answer(a, await a.next("directive"), "done");
    const running = await b.next("directive");
    const cancel = await post(`/api/sites/${site}/fanouts/${fanoutId}/cancel`, {});
    expect(cancel.status).toBe(200);
    expect((await b.next("cancel")).directiveId).toBe(running.id);
    // The node answering after the cancel changes nothing.
    answer(b, running, "too late");
    await res.text();
    await settle();
    expect(c.take("directive")).toHaveLength(0);
    const { aggregate, directives } = await fanOutView(site, fanoutId);
    expect(aggregate).toMatchObject({ total: 3, succeeded: 1, cancelled: 2 });
    expect(directives.map((d) => [d.nodeId, d.status])).toEqual([
      ["a", "done"],
      ["b", "cancelled"],
      ["c", "cancelled"],
    ]);
    expect(directives.find((d) => d.nodeId === "c")!.sentAt).toBeNull();
  });
});
