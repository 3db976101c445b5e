import { abortAllDurableObjects, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, NodeView, ActivityPage } from "../../protocol/api.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { DEFAULT_HEARTBEAT_MS, MAX_ANONYMOUS_PENDING, MISSED_HEARTBEATS_ALLOWED } from "../../protocol/limits.ts";
import { sweepGapMs } from "../../durable-objects/site-hub/node-connections.ts";
import { api, connectNode, dial, FakeAgent, freshSite, registerNode } from "./support.ts";

async function nodeView(site: string, id: string): Promise<NodeView> {
  return NodeView.parse(await (await api(`/api/sites/${site}/nodes/${id}`)).json());
}

function hub(site: string) {
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
}

async function asAgent(site: string, token: string | null): Promise<FakeAgent> {
  const a = await dial(site, token);
  if (!(a instanceof FakeAgent)) throw new Error(`refused with ${a.status}`);
  return a;
}

afterEach(() => {
  vi.useRealTimers();
});

describe("agent connections", () => {
  it("refuses a wrong token with 401 before accepting a socket", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "a" });
    const res = await dial(site, creds.token.slice(0, -4) + "0000");
    expect(res).toBeInstanceOf(Response);
    expect((res as Response).status).toBe(401);
    expect(ApiError.parse(await (res as Response).json()).error.code).toBe("unauthorized");
    const garbage = (await dial(site, "not-a-token")) as Response;
    expect(garbage.status).toBe(401);
  });

  it("registers, marks the node connected with its facts, and acks heartbeats with metrics", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "worker-1", tier: "sudo" });
    const agent = await asAgent(site, creds.token);
    agent.register(creds.id, { tier: "sudo", hostname: "box", os: "linux 6.1", arch: "x64", heartbeatMs: 2000 });
    const registered = await agent.next("registered");
    expect(registered).toMatchObject({ agentId: "worker-1", tier: "sudo", heartbeatMs: 2000 });

    const metrics = { cpuPercent: 12.5, memoryMb: 900, memoryTotalMb: 4000, diskFreeMb: 100, diskTotalMb: 200, activeDirectives: 0, uptimeSeconds: 60 };
    agent.send({ type: "heartbeat", agentId: creds.id, metrics });
    expect(await agent.next("heartbeat_ack")).toEqual({ type: "heartbeat_ack", agentId: "worker-1" });

    const view = await nodeView(site, creds.id);
    expect(view).toMatchObject({ status: "connected", runningTier: "sudo", hostname: "box", os: "linux 6.1", version: "test-1", metrics });
    expect(view.lastHeartbeatAt).toBeGreaterThan(0);
  });

  it("answers a ping with pong through the runtime's auto-response", async () => {
    const site = freshSite();
    const agent = await connectNode(site, await registerNode(site, { name: "p" }));
    agent.send("ping");
    await agent.waitText("pong");
  });

  it("accepts the token inside register for agents that do not send the header", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "legacy" });
    const agent = await asAgent(site, null);
    agent.register(creds.id, { token: creds.token });
    await agent.next("registered");
    expect((await nodeView(site, creds.id)).status).toBe("connected");
  });

  it("closes 4004 when a header-less socket registers without a valid token", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "legacy" });
    const agent = await asAgent(site, null);
    agent.register(creds.id, { token: "cxn_legacy_" + "0".repeat(64) });
    expect((await agent.waitClose()).code).toBe(CloseCode.UNAUTHORIZED);
    const bare = await asAgent(site, null);
    bare.register(creds.id);
    expect((await bare.waitClose()).code).toBe(CloseCode.UNAUTHORIZED);
  });

  it("closes 4001 when the first message is not a register, or is malformed", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "eager" });
    const a = await asAgent(site, creds.token);
    a.send({ type: "heartbeat", agentId: creds.id });
    expect((await a.waitClose()).code).toBe(CloseCode.REGISTER_INVALID);
    const b = await asAgent(site, creds.token);
    b.send("{oops");
    expect((await b.waitClose()).code).toBe(CloseCode.REGISTER_INVALID);
    const c = await asAgent(site, creds.token);
    c.send({ type: "register", agentId: creds.id });
    expect((await c.waitClose()).code).toBe(CloseCode.REGISTER_INVALID);
  });

  it("refuses a tier above the ceiling with 4005 and records the error on the node", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "low", tier: "unprivileged" });
    const agent = await asAgent(site, creds.token);
    agent.register(creds.id, { tier: "root" });
    expect((await agent.waitClose()).code).toBe(CloseCode.TIER_ABOVE_CEILING);
    const view = await nodeView(site, creds.id);
    expect(view.status).toBe("error");
    expect(view.lastError).toContain("tier root requested, ceiling is unprivileged");
  });

  it("lets a node run below its ceiling", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "high", tier: "root" });
    await connectNode(site, creds, { tier: "unprivileged" });
    expect((await nodeView(site, creds.id)).runningTier).toBe("unprivileged");
  });

  it("closes 4010 when agentId does not match the token's node", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "real" });
    const agent = await asAgent(site, creds.token);
    agent.register("someone-else");
    expect((await agent.waitClose()).code).toBe(CloseCode.NODE_MISMATCH);
  });

  it("refuses a second connection while the first is alive (4002) and leaves the first untouched", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "dup" });
    const first = await connectNode(site, creds);
    const second = await asAgent(site, creds.token);
    second.register(creds.id);
    expect((await second.waitClose()).code).toBe(CloseCode.ALREADY_CONNECTED);
    first.send({ type: "heartbeat", agentId: creds.id });
    await first.next("heartbeat_ack");
    expect(first.closed).toBeNull();
    expect((await nodeView(site, creds.id)).status).toBe("connected");
  });

  it("replaces a connection that has missed its heartbeats (4007) with the new one", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "stale" });
    const first = await connectNode(site, creds, { heartbeatMs: 1000 });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 10_000);
    const second = await asAgent(site, creds.token);
    second.register(creds.id);
    await second.next("registered");
    expect((await first.waitClose()).code).toBe(CloseCode.REPLACED);
    expect((await nodeView(site, creds.id)).status).toBe("connected");
  });

  it("marks a silent node disconnected with 4003 when the alarm sweeps", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "quiet" });
    const agent = await connectNode(site, creds, { heartbeatMs: 1000 });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3_500);
    expect(await runDurableObjectAlarm(hub(site))).toBe(true);
    expect((await agent.waitClose()).code).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    const view = await nodeView(site, creds.id);
    expect(view.status).toBe("disconnected");
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=${creds.id}`)).json());
    expect(log.entries.map((e) => e.message)).toContain("node quiet disconnected: it missed its heartbeats");
  });

  it("spaces sweeps by a second up to 2,000 sockets, then by their number, at most one heartbeat interval", () => {
    expect(sweepGapMs(0)).toBe(1_000);
    expect(sweepGapMs(2_000)).toBe(1_000);
    expect(sweepGapMs(4_000)).toBe(2_000);
    expect(sweepGapMs(10_000)).toBe(DEFAULT_HEARTBEAT_MS);
    expect(sweepGapMs(32_768)).toBe(DEFAULT_HEARTBEAT_MS);
  });

  it("re-arms the sweep at a small site's nearest liveness deadline, not later", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "timely" });
    await connectNode(site, creds, { heartbeatMs: DEFAULT_HEARTBEAT_MS });
    expect(await runDurableObjectAlarm(hub(site))).toBe(true);
    const alarm = await runInDurableObject(hub(site), (_obj, state) => state.storage.getAlarm());
    const deadline = Date.now() + DEFAULT_HEARTBEAT_MS * MISSED_HEARTBEATS_ALLOWED;
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(deadline);
    expect(alarm!).toBeGreaterThan(deadline - 2_000);
  });

  it("keeps a node that heartbeats alive through sweeps", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "lively" });
    const agent = await connectNode(site, creds, { heartbeatMs: 1000 });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2_500);
    agent.send({ type: "heartbeat", agentId: creds.id });
    await agent.next("heartbeat_ack");
    vi.setSystemTime(Date.now() + 2_000);
    await runDurableObjectAlarm(hub(site));
    expect(agent.closed).toBeNull();
    expect((await nodeView(site, creds.id)).status).toBe("connected");
  });

  it("closes a socket that never registers (4009)", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "mute" });
    const agent = await asAgent(site, creds.token);
    expect((await nodeView(site, creds.id)).status).toBe("connecting");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 11_000);
    await runDurableObjectAlarm(hub(site));
    expect((await agent.waitClose()).code).toBe(CloseCode.REGISTER_TIMEOUT);
    expect((await nodeView(site, creds.id)).status).toBe("disconnected");
  });

  it("answers invalid messages after register with an error and keeps the connection, up to a limit", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "noisy" });
    const agent = await connectNode(site, creds);
    agent.send("{broken");
    expect((await agent.next("error")).message).toBe("frame is not valid JSON");
    agent.take("error");
    agent.send({ type: "launch_missiles" });
    expect((await agent.next("error")).message).toContain("invalid message");
    agent.take("error");
    agent.send({ type: "heartbeat", agentId: creds.id, metrics: { cpuPercent: "high" } });
    expect((await agent.next("error")).message).toContain("metrics.cpuPercent");
    agent.send(new Uint8Array([1, 2, 3]));
    expect(agent.closed).toBeNull();
    for (let i = 0; i < 25; i++) agent.send("nope");
    expect((await agent.waitClose()).code).toBe(CloseCode.PROTOCOL_VIOLATION);
  });

  it("does not let one node's bad input disturb another node", async () => {
    const site = freshSite();
    const good = await connectNode(site, await registerNode(site, { name: "good" }));
    const bad = await connectNode(site, await registerNode(site, { name: "bad" }));
    for (let i = 0; i < 25; i++) bad.send("garbage");
    await bad.waitClose();
    good.send({ type: "heartbeat", agentId: "good" });
    await good.next("heartbeat_ack");
    expect((await nodeView(site, "good")).status).toBe("connected");
  });

  it("rekey closes the live connection (4008) and refuses the old token at once", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "rotating" });
    const agent = await connectNode(site, creds);
    const res = await api(`/api/sites/${site}/nodes/${creds.id}/rekey`, { method: "POST" });
    expect(res.status).toBe(200);
    const fresh = (await res.json()) as { token: string };
    expect(fresh.token).not.toBe(creds.token);
    expect((await agent.waitClose()).code).toBe(CloseCode.TOKEN_ROTATED);
    expect(((await dial(site, creds.token)) as Response).status).toBe(401);
    await connectNode(site, { ...creds, token: fresh.token });
  });

  it("rekey and deregister also close a socket that presented the old token and has not registered yet", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "stolen" });
    const legit = await connectNode(site, creds);
    // A thief with a copy of the token opens a socket and waits, hoping to register once the token is rotated.
    const thief = await asAgent(site, creds.token);
    const rekey = await api(`/api/sites/${site}/nodes/${creds.id}/rekey`, { method: "POST" });
    const fresh = (await rekey.json()) as { token: string };
    expect((await legit.waitClose()).code).toBe(CloseCode.TOKEN_ROTATED);
    expect((await thief.waitClose()).code).toBe(CloseCode.TOKEN_ROTATED);
    await connectNode(site, { ...creds, token: fresh.token });

    const other = await registerNode(site, { name: "leaving-with-thief" });
    const waiting = await asAgent(site, other.token);
    expect((await api(`/api/sites/${site}/nodes/${other.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await waiting.waitClose()).code).toBe(CloseCode.DEREGISTERED);
    const again = await registerNode(site, { name: "leaving-with-thief", id: other.id });
    expect(again.id).toBe(other.id);
    expect(((await dial(site, other.token)) as Response).status).toBe(401);
    await connectNode(site, again);
  });

  it("register re-checks a token verified at upgrade: one replaced in between does not register", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "raced" });
    const early = await asAgent(site, creds.token);
    // The token changes without the eviction a rekey does, as if the two raced.
    await runInDurableObject(hub(site), (_obj, state) => {
      state.storage.sql.exec("UPDATE nodes SET token_hash = ? WHERE id = ?", "f".repeat(64), creds.id);
    });
    early.register(creds.id);
    expect((await early.waitClose()).code).toBe(CloseCode.UNAUTHORIZED);
    expect((await nodeView(site, creds.id)).status).not.toBe("connected");
  });

  it("deregister closes the connection (4006) and refuses the token from then on with 410", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "leaving" });
    const agent = await connectNode(site, creds);
    expect((await api(`/api/sites/${site}/nodes/${creds.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await agent.waitClose()).code).toBe(CloseCode.DEREGISTERED);
    const refused = (await dial(site, creds.token)) as Response;
    expect(refused.status).toBe(410);
    expect(ApiError.parse(await refused.json()).error.code).toBe("deregistered");
    expect((await nodeView(site, creds.id)).status).toBe("deregistered");
  });

  it("marks the node disconnected when the agent closes, and on a disconnect message", async () => {
    const site = freshSite();
    const a = await connectNode(site, await registerNode(site, { name: "closer" }));
    a.ws.close(1000, "done");
    await vi.waitFor(async () => expect((await nodeView(site, "closer")).status).toBe("disconnected"));
    const b = await connectNode(site, await registerNode(site, { name: "polite" }));
    b.send({ type: "disconnect", reason: "shutting down" });
    await b.waitClose();
    const view = await nodeView(site, "polite");
    expect(view.status).toBe("disconnected");
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=polite`)).json());
    expect(log.entries[0]!.message).toContain("shutting down");
  });

  it("marks nodes disconnected as soon as a restarted hub wakes without their sockets", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "survivor" });
    await connectNode(site, creds);
    expect((await nodeView(site, creds.id)).status).toBe("connected");
    await abortAllDurableObjects();
    const view = await nodeView(site, creds.id);
    expect(view.status).toBe("disconnected");
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=${creds.id}`)).json());
    expect(log.entries[0]!.message).toContain("has no live connection");
  });

  it("refuses plain HTTP on the connect endpoint", async () => {
    const site = freshSite();
    const res = await api(`/api/sites/${site}/connect`, {}, "");
    expect(res.status).toBe(426);
  });
});

describe("sockets opened without a token", () => {
  it(`wait to register at most ${MAX_ANONYMOUS_PENDING} at once: one more is a 429, a node with its token still connects, and a registered one frees a place`, async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "old-agent" });
    const waiting: FakeAgent[] = [];
    for (let i = 0; i < MAX_ANONYMOUS_PENDING; i++) {
      const socket = await dial(site, null);
      if (!(socket instanceof FakeAgent)) throw new Error(`anonymous socket ${i} refused: ${socket.status}`);
      waiting.push(socket);
    }
    const refused = await dial(site, null);
    expect(refused).toBeInstanceOf(Response);
    expect((refused as Response).status).toBe(429);
    expect(ApiError.parse(await (refused as Response).json()).error.code).toBe("too_many_pending");
    // A node sending its token with the upgrade is never held up by them.
    const other = await registerNode(site, { name: "new-agent" });
    await connectNode(site, other);
    // One of them registers (an older agent, token in `register`): its place is free again.
    waiting[0]!.register(creds.id, { token: creds.token });
    await waiting[0]!.next("registered");
    expect(await dial(site, null)).toBeInstanceOf(FakeAgent);
  });
});
