import os from "node:os";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EXIT_REFUSED } from "../../agent/connection/run-agent.ts";
import { SOURCE_BUILD } from "../../protocol/agent-release.ts";
import { closeCodeInfo } from "../../protocol/close-codes.ts";
import { ActionName } from "../../protocol/directives.ts";
import { METRICS_EVERY_TICKS } from "../../protocol/limits.ts";
import { HeartbeatMessage, RegisterMessage } from "../../protocol/node-messages.ts";
import { FakeHub } from "./connection-fake-hub.ts";
import { FIXED_METRICS, TOKEN, startAgent, stopAllAgents } from "./connection-test-agent.ts";

let hub: FakeHub;
beforeEach(async () => {
  hub = await FakeHub.start();
});
afterEach(async () => {
  await stopAllAgents();
  await hub.close();
});

const apiError = (code: string, message: string) => JSON.stringify({ error: { code, message } });

describe("registering", () => {
  it("sends register first, with the token as a Bearer header and the node's details", async () => {
    const agent = startAgent(hub, { group: "gpu", heartbeatMs: 5_000 });
    const connection = await hub.nextConnection();
    const register = await connection.message("register");

    expect(connection.request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(connection.request.url).toBe("/api/sites/default/connect");
    // No compression offered, so none can be agreed: see agent/connection/socket-options.ts.
    expect(connection.request.headers["sec-websocket-extensions"]).toBeUndefined();
    expect(connection.frames[0]).toBe(register);
    expect(RegisterMessage.parse(register)).toEqual({
      type: "register",
      agentId: "lab-1",
      name: os.hostname(),
      capabilities: ActionName.options,
      version: `${JSON.parse(readFileSync("package.json", "utf8")).version}+${SOURCE_BUILD}`,
      tier: "sudo",
      group: "gpu",
      hostname: os.hostname(),
      os: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      heartbeatMs: 5_000,
      sandboxRoot: "/tmp/cortex-sandbox",
    });
    expect(register).not.toHaveProperty("token");
    await vi.waitFor(() => expect(agent.handler.connects).toBe(1));
  });

  it("uses --id and --name over the token's node id and the hostname", async () => {
    startAgent(hub, { id: "other-node", name: "Training box" });
    const register = await (await hub.nextConnection()).message("register");
    expect(register.agentId).toBe("other-node");
    expect(register.name).toBe("Training box");
  });

  it("rejects at once when the token carries no node id and no --id is given", async () => {
    const agent = startAgent(hub, { token: "opaque-token" });
    await expect(agent.done).rejects.toThrow(/pass --id/);
    expect(hub.attempts).toHaveLength(0);
  });
});

describe("liveness", () => {
  it(`pings every interval and sends a metrics heartbeat every ${METRICS_EVERY_TICKS} ticks`, async () => {
    const intervalMs = 40;
    const agent = startAgent(hub, { heartbeatMs: intervalMs });
    agent.handler.active = 2;
    const connection = await hub.nextConnection();
    await connection.message("register");
    const registeredAt = Date.now();
    const first = await connection.message("heartbeat");
    await connection.message("heartbeat");
    const elapsed = Date.now() - registeredAt;

    const liveness = connection.frames.slice(1, 1 + 2 * METRICS_EVERY_TICKS);
    const expected = liveness.map((_, i) => ((i + 1) % METRICS_EVERY_TICKS === 0 ? "heartbeat" : "ping"));
    expect(liveness.map((frame) => (typeof frame === "string" ? frame : frame.type))).toEqual(expected);
    expect(elapsed).toBeGreaterThanOrEqual(2 * METRICS_EVERY_TICKS * intervalMs - 10);
    expect(HeartbeatMessage.parse(first)).toEqual({
      type: "heartbeat",
      agentId: "lab-1",
      metrics: { ...FIXED_METRICS, activeDirectives: 2 },
    });
  });

  it("still heartbeats, without metrics, when metrics cannot be collected", async () => {
    const agent = startAgent(
      hub,
      { heartbeatMs: 20 },
      {
        collectMetrics: async () => {
          throw new Error("statfs failed");
        },
      },
    );
    const connection = await hub.nextConnection();
    expect(await connection.message("heartbeat")).toEqual({ type: "heartbeat", agentId: "lab-1" });
    expect(agent.logs).toContain("warn metrics unavailable: statfs failed");
  });

  it("reconnects when the hub goes silent for three heartbeat intervals", async () => {
    hub.plan({ kind: "silent" });
    const agent = startAgent(hub, { heartbeatMs: 40 });
    const silent = await hub.nextConnection();
    await silent.message("register");
    const cutAt = Date.now();
    const next = await hub.nextConnection();
    expect(Date.now() - cutAt).toBeGreaterThanOrEqual(3 * 40 - 10);
    expect((await silent.closed).code).toBe(1006);
    await next.message("register");
    expect(agent.logs.some((line) => /nothing heard from the hub for .*; reconnecting in/.test(line))).toBe(true);
  });

  it("gives up on a connection that is not registered within the connect timeout, and retries", async () => {
    hub.plan({ kind: "mute" });
    const agent = startAgent(hub, { timeoutMs: 200 });
    const mute = await hub.nextConnection();
    await mute.message("register");
    await (await hub.nextConnection()).message("register");
    expect(agent.logs.some((line) => line.startsWith("warn not registered within 0.2 s; reconnecting in"))).toBe(true);
  });
});

describe("reconnecting", () => {
  it("reconnects after the hub drops it, waiting longer each time", async () => {
    hub.plan({ kind: "drop" }, { kind: "drop" }, { kind: "drop" });
    const agent = startAgent(hub, { reconnectMs: 100 });
    for (let i = 0; i < 4; i++) await (await hub.nextConnection()).message("register");
    await vi.waitFor(() => expect(agent.handler.connects).toBe(4));
    // random is pinned at 0.5, so each wait is half of 100, 200, 400 ms.
    expect(agent.delays).toEqual([50, 100, 200]);
    expect(agent.logs.filter((line) => line.includes("reconnecting in"))).toHaveLength(3);
  });

  it("keeps retrying while the hub is unreachable", async () => {
    const gone = await FakeHub.start();
    const endpoint = gone.endpoint;
    await gone.close();
    const agent = startAgent(hub, { endpoint });
    await vi.waitFor(() => expect(agent.delays.length).toBeGreaterThanOrEqual(3));
    expect(agent.delays.slice(0, 3)).toEqual([50, 100, 200]);
    expect(agent.logs.some((line) => line.includes("connection failed: connect ECONNREFUSED"))).toBe(true);
  });

  it.each([4003, 4007, 1012])("retries after close code %i", async (code) => {
    hub.plan({ kind: "close", code });
    const agent = startAgent(hub);
    await (await hub.nextConnection()).message("register");
    await (await hub.nextConnection()).message("register");
    expect(agent.logs.some((line) => line.includes(closeCodeInfo(code)!.explanation))).toBe(true);
  });

  it.each([503, 429, 500])("retries after the upgrade is answered with HTTP %i", async (status) => {
    hub.plan({ kind: "refuse", status, body: apiError("unavailable", "try later") });
    const agent = startAgent(hub);
    await (await hub.nextConnection()).message("register");
    expect(hub.attempts).toHaveLength(2);
    expect(agent.logs).toContain(`warn hub answered HTTP ${status}: try later; reconnecting in 0.1 s`);
  });
});

describe("definite refusals", () => {
  it.each([4002, 4004, 4005, 4006, 4008, 4010])("stops for good on close code %i", async (code) => {
    hub.plan({ kind: "close", code });
    const agent = startAgent(hub);
    const exit = await agent.done;
    const info = closeCodeInfo(code)!;
    expect(exit).toEqual({ code: EXIT_REFUSED, reason: `${info.explanation} [close ${code} ${info.name}]` });
    expect(hub.attempts).toHaveLength(1);
    expect(agent.handler.shutdowns).toBe(1);
    expect(agent.logs.at(-1)).toBe(`error ${exit.reason}`);
    expect(agent.signals.listenerCount("SIGTERM")).toBe(0);
  });

  it.each([
    [401, 4004, "unauthorized", "token revoked"],
    [410, 4006, "deregistered", "node lab-1 was deregistered"],
  ])("stops for good when the upgrade is refused with HTTP %i", async (status, code, name, message) => {
    hub.plan({ kind: "refuse", status, body: apiError(name, message) });
    const agent = startAgent(hub);
    const exit = await agent.done;
    expect(exit.code).toBe(EXIT_REFUSED);
    expect(exit.reason).toBe(`${closeCodeInfo(code)!.explanation} [HTTP ${status}: ${message}]`);
    expect(exit.reason).not.toMatch(/\n/);
    expect(hub.attempts).toHaveLength(1);
  });

  it("still stops on HTTP 401 when the body is not an ApiError", async () => {
    hub.plan({ kind: "refuse", status: 401, body: "<html>nope</html>" });
    const exit = await startAgent(hub).done;
    expect(exit).toEqual({ code: EXIT_REFUSED, reason: `${closeCodeInfo(4004)!.explanation} [HTTP 401]` });
  });
});

describe("stopping", () => {
  it("on SIGTERM stops the handler, says disconnect, closes with 1000 and resolves with code 0", async () => {
    const agent = startAgent(hub);
    agent.handler.finalMessageOnShutdown = true;
    const connection = await hub.nextConnection();
    await connection.message("register");
    await vi.waitFor(() => expect(agent.handler.connects).toBe(1));

    agent.signals.emit("SIGTERM");
    expect(await agent.done).toEqual({ code: 0, reason: "stopped by SIGTERM" });
    expect(agent.handler.shutdowns).toBe(1);
    const [result, disconnect] = connection.frames.slice(-2);
    expect(result).toMatchObject({ type: "result", directiveId: "d-final" });
    expect(disconnect).toEqual({ type: "disconnect", reason: "stopped by SIGTERM" });
    expect((await connection.closed).code).toBe(1000);
    expect(agent.signals.listenerCount("SIGTERM") + agent.signals.listenerCount("SIGINT")).toBe(0);
  });

  it("on SIGINT while waiting to reconnect stops without another attempt", async () => {
    hub.plan({ kind: "close", code: 4003 });
    let waiting!: () => void;
    const waitStarted = new Promise<void>((resolve) => (waiting = resolve));
    const agent = startAgent(
      hub,
      {},
      {
        sleep: (_ms, signal) => {
          waiting();
          return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        },
      },
    );
    await waitStarted;
    agent.signals.emit("SIGINT");
    expect(await agent.done).toEqual({ code: 0, reason: "stopped by SIGINT" });
    expect(hub.attempts).toHaveLength(1);
    expect(agent.handler.shutdowns).toBe(1);
  });
});
