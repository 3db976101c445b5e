import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EXIT_REFUSED } from "../../agent/connection/run-agent.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { FakeHub, type HubConnection } from "./connection-fake-hub.ts";
import { NEW_TOKEN, TOKEN, startAgent, stopAllAgents, type TestAgent } from "./connection-test-agent.ts";

let hub: FakeHub;
beforeEach(async () => {
  hub = await FakeHub.start();
});
afterEach(async () => {
  await stopAllAgents();
  await hub.close();
});

const directive: DirectiveMessage = {
  type: "directive",
  id: "d-1",
  sessionId: "s-1",
  action: "bash",
  params: { command: "echo hi" },
  stream: true,
  timeoutMs: 5_000,
};

/** The next connection, once the agent has seen its `registered` (its `connects`-th registration). */
async function registered(agent: TestAgent, connects = 1): Promise<HubConnection> {
  const connection = await hub.nextConnection();
  await connection.message("register");
  await vi.waitFor(() => expect(agent.handler.connects).toBe(connects));
  return connection;
}

describe("messages from the hub", () => {
  it("routes directives, cancels and run-complete acks to the handler", async () => {
    const agent = startAgent(hub);
    const connection = await registered(agent);

    connection.sendJson(directive);
    expect(await connection.message("directive_ack")).toEqual({ type: "directive_ack", directiveId: "d-1" });
    expect(agent.handler.runs).toEqual([directive]);

    connection.sendJson({ type: "cancel", directiveId: "d-1" });
    connection.sendJson({ type: "run_complete_ack", runId: "run-7" });
    await vi.waitFor(() => expect(agent.handler.runAcks).toEqual(["run-7"]));
    expect(agent.handler.cancels).toEqual(["d-1"]);
  });

  it("sends a directive's output and result that come together as one batch frame to a hub that takes batches", async () => {
    hub.plan({ kind: "accept", batches: true });
    const agent = startAgent(hub);
    const connection = await registered(agent);
    connection.sendJson(directive);
    await connection.message("directive_ack");
    const send = agent.handler.lastSend!;
    expect(send({ type: "stream_chunk", directiveId: "d-1", seq: 0, chunk: "hi\n", stream: "stdout" })).toBe(true);
    expect(send({ type: "result", directiveId: "d-1", success: true, output: "hi\n", durationMs: 1, chunks: 1 })).toBe(true);
    const batch = await connection.message("batch");
    expect(batch.messages.map((m) => m.type)).toEqual(["stream_chunk", "result"]);
    expect(connection.frames.filter((f) => typeof f !== "string" && (f.type === "stream_chunk" || f.type === "result"))).toEqual([]);
  });

  it("sends each message in a frame of its own to a hub that does not say it takes batches", async () => {
    const agent = startAgent(hub);
    const connection = await registered(agent);
    connection.sendJson(directive);
    await connection.message("directive_ack");
    const send = agent.handler.lastSend!;
    send({ type: "result", directiveId: "d-1", success: true, output: "", durationMs: 1 });
    await connection.message("result");
    expect(connection.frames.some((f) => typeof f !== "string" && f.type === "batch")).toBe(false);
  });

  it("gives the handler a send that is refused while disconnected and follows the reconnect", async () => {
    let release: (() => void) | undefined;
    const agent = startAgent(hub, {}, { sleep: () => new Promise<void>((resolve) => (release = resolve)) });
    const first = await registered(agent);
    const send = agent.handler.lastSend!;
    expect(send({ type: "stream_chunk", directiveId: "d-1", seq: 0, chunk: "early" })).toBe(true);
    expect(await first.message("stream_chunk")).toMatchObject({ chunk: "early" });

    first.ws.close(1012, "hub restarting");
    await vi.waitFor(() => expect(release).toBeDefined());
    expect(send({ type: "stream_chunk", directiveId: "d-1", seq: 1, chunk: "lost" })).toBe(false);

    release!();
    const second = await registered(agent, 2);
    expect(send({ type: "stream_chunk", directiveId: "d-1", seq: 2, chunk: "late" })).toBe(true);
    expect(await second.message("stream_chunk")).toMatchObject({ seq: 2, chunk: "late" });
  });

  it("logs invalid frames and carries on", async () => {
    const agent = startAgent(hub);
    const connection = await registered(agent);
    connection.ws.send("not json");
    connection.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    connection.sendJson({ type: "bogus" });
    connection.sendJson({ type: "directive", id: "d-2" });
    connection.sendJson({ type: "config_update", heartbeatMs: 5 });
    connection.sendJson(directive);
    await connection.message("directive_ack");

    const ignored = agent.logs.filter((line) => line.startsWith("warn ignored an invalid message from the hub: "));
    expect(ignored).toHaveLength(5);
    expect(ignored[0]).toContain("not JSON");
    expect(ignored[1]).toContain("binary frame");
    expect(agent.handler.runs.map((run) => run.id)).toEqual(["d-1"]);
    expect(hub.attempts).toHaveLength(1);
  });

  it("survives a handler that throws", async () => {
    const agent = startAgent(hub);
    const connection = await registered(agent);
    agent.handler.cancel = () => {
      throw new Error("boom");
    };
    connection.sendJson({ type: "cancel", directiveId: "d-9" });
    connection.sendJson(directive);
    await connection.message("directive_ack");
    expect(agent.logs).toContain("error handling a cancel message failed: boom");
  });

  it("applies config_update to the ticker now and to the next register", async () => {
    const agent = startAgent(hub, { heartbeatMs: 60_000, group: "old" });
    const first = await registered(agent);
    first.sendJson({ type: "config_update", heartbeatMs: 1_000, name: "renamed", group: "gpu" });
    const updatedAt = Date.now();
    await first.ping();
    expect(Date.now() - updatedAt).toBeGreaterThanOrEqual(1_000 - 10);
    expect(agent.logs).toContain("info config update from the hub: name renamed, group gpu, heartbeat 1.0 s");

    first.ws.close(4003, "missed heartbeats");
    const register = (await registered(agent, 2)).frames[0];
    expect(register).toMatchObject({ name: "renamed", group: "gpu", heartbeatMs: 1_000 });
  });

  it("uses the token from rekey for the next connection, and ignores a rekey for another node", async () => {
    const agent = startAgent(hub);
    const first = await registered(agent);
    first.sendJson({ type: "rekey", agentId: "someone-else", newToken: "cxn_someone-else_" + "0".repeat(64) });
    first.sendJson({ type: "rekey", agentId: "lab-1", newToken: NEW_TOKEN });
    await vi.waitFor(() => expect(agent.logs.some((line) => line.includes("rotated this node's token"))).toBe(true));
    expect(agent.logs).toContain("warn ignored a rekey for another node (someone-else)");

    first.ws.close(1012, "hub restarting");
    const second = await hub.nextConnection();
    expect(second.request.headers.authorization).toBe(`Bearer ${NEW_TOKEN}`);
  });
});

describe("logs", () => {
  it("never contain the token, old or new, even when the hub echoes it", async () => {
    const agent = startAgent(hub);
    const first = await registered(agent);
    first.sendJson({ type: "error", message: `token ${TOKEN} is about to expire`, code: "expiring" });
    first.sendJson({ type: "rekey", agentId: "lab-1", newToken: NEW_TOKEN });
    first.sendJson({ type: "error", message: `use ${NEW_TOKEN}\nfrom now on` });
    await vi.waitFor(() => expect(agent.logs.filter((line) => line.startsWith("warn hub error"))).toHaveLength(2));

    hub.plan({ kind: "refuse", status: 401, body: JSON.stringify({ error: { code: "unauthorized", message: `bad ${NEW_TOKEN}` } }) });
    first.ws.close(1012);
    const exit = await agent.done;
    expect(exit.code).toBe(EXIT_REFUSED);

    const all = agent.logs.join("\n");
    expect(agent.logs.length).toBeGreaterThanOrEqual(6);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain(NEW_TOKEN);
    expect(all).not.toContain("ab".repeat(32));
    expect(agent.logs).toContain("warn hub error expiring: token [token] is about to expire");
    expect(agent.logs).toContain("warn hub error: use [token] from now on");
  });
});
