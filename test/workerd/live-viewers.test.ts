import { env, runDurableObjectAlarm, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../protocol/api.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { LIVE_BEATS_MS } from "../../protocol/limits.ts";
import { watch } from "./live-viewer.ts";
import { ADMIN_KEY, api, BASE, connectNode, ensureSite, freshSite, registerNode } from "./support.ts";

const METRICS = { cpuPercent: 42, memoryMb: 1000, memoryTotalMb: 4000, diskFreeMb: 50, diskTotalMb: 200, activeDirectives: 0, uptimeSeconds: 9 };

function hub(site: string) {
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
}

afterEach(() => {
  vi.useRealTimers();
});

describe("the dashboard's live socket", () => {
  it("sends every node of the site as a snapshot on connect, without the token prefix", async () => {
    const site = freshSite();
    await registerNode(site, { name: "alpha", group: "stage" });
    const beta = await registerNode(site, { name: "beta", tier: "sudo" });
    await connectNode(site, beta);
    const nodes = await (await watch(site)).snapshot();
    expect(nodes.map((n) => [n.id, n.status, n.group])).toEqual([
      ["alpha", "disconnected", "stage"],
      ["beta", "connected", null],
    ]);
    expect(nodes[0]).not.toHaveProperty("tokenPrefix");
  });

  it("pushes a delta when a node registers, connects, heartbeats with metrics, disconnects and is deregistered", async () => {
    const site = freshSite();
    const viewer = await watch(site);
    expect(await viewer.snapshot()).toEqual([]);

    const creds = await registerNode(site, { name: "gamma", group: "racks" });
    expect(await viewer.delta((n) => n.id === "gamma")).toMatchObject({ status: "disconnected", group: "racks", tier: "unprivileged" });

    const agent = await connectNode(site, creds, { hostname: "gamma-host" });
    expect(await viewer.delta((n) => n.id === "gamma" && n.status === "connected")).toMatchObject({ hostname: "gamma-host", version: "test-1" });

    agent.send({ type: "heartbeat", agentId: creds.id, metrics: METRICS });
    await agent.next("heartbeat_ack");
    expect((await viewer.beat((b) => b.id === "gamma")).metrics).toEqual(METRICS);

    agent.send({ type: "disconnect", reason: "maintenance" });
    await agent.waitClose();
    expect(await viewer.delta((n) => n.id === "gamma" && n.status === "disconnected" && n.disconnectedAt !== null)).toBeTruthy();

    expect((await api(`/api/sites/${site}/nodes/gamma`, { method: "DELETE" })).status).toBe(200);
    expect(await viewer.delta((n) => n.id === "gamma" && n.status === "deregistered")).toBeTruthy();
    expect(viewer.deltas("gamma").map((n) => n.status)).toEqual(
      expect.arrayContaining(["disconnected", "connecting", "connected", "deregistered"]),
    );
  });

  it("gathers heartbeats: one message for many nodes with the latest of each, and no message per heartbeat", async () => {
    const site = freshSite();
    const a = await registerNode(site, { name: "hb-a" });
    const b = await registerNode(site, { name: "hb-b" });
    const [agentA, agentB] = [await connectNode(site, a), await connectNode(site, b)];
    const viewer = await watch(site);
    await viewer.snapshot();
    const before = viewer.messages.length;
    agentA.send({ type: "heartbeat", agentId: a.id, metrics: { ...METRICS, cpuPercent: 10 } });
    await agentA.next("heartbeat_ack");
    agentA.take("heartbeat_ack");
    agentA.send({ type: "heartbeat", agentId: a.id, metrics: { ...METRICS, cpuPercent: 20 } });
    agentB.send({ type: "heartbeat", agentId: b.id });
    await agentA.next("heartbeat_ack");
    await agentB.next("heartbeat_ack");
    const beats = await viewer.beat((x) => x.id === b.id);
    const messages = viewer.beatMessages();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
    expect(messages[0]!.find((x) => x.id === a.id)!.metrics).toEqual({ ...METRICS, cpuPercent: 20 });
    // A heartbeat without metrics leaves the row's metrics standing: the beat does not say null.
    expect(beats).not.toHaveProperty("metrics");
    expect(beats.lastHeartbeatAt).toBeGreaterThan(0);
    // Nothing but the gathered message reached the viewer for the three heartbeats.
    expect(viewer.messages.slice(before).map((m) => m.type)).toEqual(["beats"]);
    // What the dashboard applies agrees with what the API reads.
    const node = (await (await api(`/api/sites/${site}/nodes/${a.id}`)).json()) as { lastHeartbeatAt: number; metrics: unknown };
    expect(node).toMatchObject({ lastHeartbeatAt: messages[0]!.find((x) => x.id === a.id)!.lastHeartbeatAt, metrics: { cpuPercent: 20 } });
  });

  it("sends the whole row for metrics too large for the socket's state, and a row change drops that node's waiting beat", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "wide" });
    const agent = await connectNode(site, creds);
    const viewer = await watch(site);
    await viewer.snapshot();
    const gpus = Array.from({ length: 64 }, (_, i) => ({ name: `${i}`.padStart(200, "g"), utilizationPercent: 10, memoryUsedMb: 1, memoryTotalMb: 2 }));
    agent.send({ type: "heartbeat", agentId: creds.id, metrics: { ...METRICS, gpus } });
    await agent.next("heartbeat_ack");
    expect((await viewer.delta((n) => n.id === creds.id && n.metrics !== null)).metrics!.gpus).toHaveLength(64);
    agent.take("heartbeat_ack");
    // A small heartbeat, then a change of the row before the beat is pushed: the row carries the heartbeat.
    agent.send({ type: "heartbeat", agentId: creds.id, metrics: { ...METRICS, cpuPercent: 77 } });
    await agent.next("heartbeat_ack");
    expect((await api(`/api/sites/${site}/nodes/${creds.id}`, { method: "PATCH", body: JSON.stringify({ aiToolsAllowed: false }) })).status).toBe(200);
    const changed = await viewer.delta((n) => n.id === creds.id && !n.aiToolsAllowed);
    expect(changed.metrics).toMatchObject({ cpuPercent: 77 });
    await new Promise((r) => setTimeout(r, LIVE_BEATS_MS + 300));
    expect(viewer.beatMessages()).toEqual([]);
  });

  it("pushes the disconnect of a node the liveness sweep drops, and the sweep leaves viewers open", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "quiet" });
    const agent = await connectNode(site, creds, { heartbeatMs: 1000 });
    const viewer = await watch(site);
    await viewer.snapshot();
    vi.useFakeTimers({ toFake: ["Date"] });
    // Past both the heartbeat deadline and the register timeout, which an unregistered socket would hit.
    vi.setSystemTime(Date.now() + 11_000);
    expect(await runDurableObjectAlarm(hub(site))).toBe(true);
    expect((await agent.waitClose()).code).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    expect(await viewer.delta((n) => n.id === "quiet" && n.status === "disconnected")).toBeTruthy();
    expect(viewer.closed).toBeNull();
    // Still live after the sweep: a later change arrives.
    await registerNode(site, { name: "later" });
    expect(await viewer.delta((n) => n.id === "later")).toBeTruthy();
    expect(viewer.closed).toBeNull();
  });

  it("does not count a viewer as a node: directives and fan-outs see only agent sockets", async () => {
    const site = freshSite();
    const viewer = await watch(site);
    await viewer.snapshot();
    const creds = await registerNode(site, { name: "solo", tier: "root" });
    const agent = await connectNode(site, creds);
    const pending = api(`/api/sites/${site}/fanouts`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command: "true" }, target: { all: true } }) });
    const directive = await agent.next("directive");
    agent.send({ type: "result", directiveId: directive.id, success: true, exitCode: 0, output: "", durationMs: 1 });
    const body = (await (await pending).json()) as { aggregate: { total: number; succeeded: number } };
    expect(body.aggregate).toMatchObject({ total: 1, succeeded: 1 });
    expect(viewer.closed).toBeNull();
  });

  it("ignores what a viewer sends, and answers its ping with pong without a node's protocol", async () => {
    const site = freshSite();
    const viewer = await watch(site);
    await viewer.snapshot();
    viewer.ws.send(JSON.stringify({ type: "register", agentId: "x", name: "x", capabilities: [], version: "1" }));
    viewer.ws.send("ping");
    await viewer.text("pong");
    await registerNode(site, { name: "after" });
    expect(await viewer.delta((n) => n.id === "after")).toBeTruthy();
    expect(viewer.closed).toBeNull();
  });

  it("never takes a viewer for a node: a viewer's result, heartbeat or close does nothing to a node or its directive", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "real", tier: "root" });
    const agent = await connectNode(site, creds);
    const viewer = await watch(site);
    await viewer.snapshot();
    const pending = api(`/api/sites/${site}/nodes/${creds.id}/directives`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command: "true" } }) });
    const directive = await agent.next("directive");
    viewer.ws.send(JSON.stringify({ type: "result", directiveId: directive.id, success: true, exitCode: 0, output: "from the viewer", durationMs: 1 }));
    viewer.ws.send(JSON.stringify({ type: "batch", messages: [{ type: "result", directiveId: directive.id, success: false, exitCode: 9, output: "", durationMs: 1 }] }));
    viewer.ws.send(JSON.stringify({ type: "heartbeat", agentId: creds.id, metrics: METRICS }));
    viewer.ws.send("ping");
    await viewer.text("pong");
    expect(viewer.closed).toBeNull();
    const before = (await (await api(`/api/sites/${site}/directives/${directive.id}`)).json()) as { status: string };
    expect(before.status).toBe("sent");
    viewer.ws.close(1000, "done");
    await viewer.waitClose();
    agent.send({ type: "result", directiveId: directive.id, success: true, exitCode: 0, output: "from the node", durationMs: 1 });
    const ended = (await (await pending).json()) as { status: string; output: string };
    expect(ended).toMatchObject({ status: "done", output: "from the node" });
    const node = (await (await api(`/api/sites/${site}/nodes/${creds.id}`)).json()) as { status: string; metrics: unknown };
    expect(node.status).toBe("connected");
    expect(node.metrics).toBeNull();
  });

  it("refuses a live socket without credentials, from another origin, or without an upgrade", async () => {
    const site = freshSite();
    await ensureSite(site);
    const anonymous = await SELF.fetch(`${BASE}/api/sites/${site}/live`, { headers: { Upgrade: "websocket" } });
    expect(anonymous.status).toBe(401);
    const foreign = await SELF.fetch(`${BASE}/api/sites/${site}/live`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${ADMIN_KEY}`, Origin: "https://evil.example" },
    });
    expect(foreign.status).toBe(403);
    expect(ApiError.parse(await foreign.json()).error.code).toBe("cross_origin");
    const plain = await api(`/api/sites/${site}/live`);
    expect(plain.status).toBe(426);
    const same = await watch(site, { Origin: BASE });
    expect(await same.snapshot()).toEqual([]);
  });
});
