import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeCredentials, NodeListResponse, NodeView } from "../../protocol/api.ts";
import { CloseCode, closeCodeInfo } from "../../protocol/close-codes.ts";
import { MISSED_HEARTBEATS_ALLOWED } from "../../protocol/limits.ts";
import { Fleet } from "../support/fleet.ts";
import { waitFor } from "../support/wait-for.ts";

const HEARTBEAT_MS = 1_000;
/** The sweep runs on an alarm at least a second apart, and a loaded CI machine adds its own delay. */
const SWEEP_SLACK_MS = 5_000;
/** What `cortex node connect` exits with after a definite refusal (sysexits EX_CONFIG). */
const EXIT_REFUSED = 78;

function explanation(code: number): string {
  return closeCodeInfo(code)!.explanation;
}

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.start();
});

afterAll(async () => {
  await fleet?.close();
});

describe("a node's life through the real CLI, agent and hub", () => {
  it("registers, connects with metrics, drops on kill -9 within the heartbeat timeout, survives rekey and deregister as the explanations say", async () => {
    const { cortex, api } = fleet;
    const creds = NodeCredentials.parse(await cortex.json(["node", "register", "--name", "alpha", "--id", "alpha", "--tier", "sudo"]));
    expect(creds.id).toBe("alpha");
    expect(creds.endpoint).toBe(fleet.hub.endpoint);

    const first = fleet.startAgent({ token: creds.token, tier: "sudo", heartbeatMs: HEARTBEAT_MS });
    // Metrics come with every METRICS_EVERY_TICKS-th heartbeat, so wait for them before asking the CLI.
    await waitFor("alpha's first metrics", async () => (await api.node("alpha")).metrics ?? undefined, { timeoutMs: 30_000 });
    const listed = NodeListResponse.parse(await cortex.json(["node", "list"])).nodes.find((n) => n.id === "alpha");
    expect(listed).toMatchObject({ status: "connected", runningTier: "sudo", tier: "sudo" });
    expect(listed!.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(listed!.metrics!.memoryTotalMb).toBeGreaterThan(0);
    expect(listed!.metrics!.diskTotalMb).toBeGreaterThan(0);

    const killedAt = Date.now();
    first.proc.killGroup("SIGKILL");
    await first.proc.exited;
    const limit = MISSED_HEARTBEATS_ALLOWED * HEARTBEAT_MS + SWEEP_SLACK_MS;
    await fleet.waitForStatus("alpha", "disconnected", limit);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(limit);

    const rekeyed = NodeCredentials.parse(await cortex.json(["node", "rekey", "alpha"]));
    expect(rekeyed.token).not.toBe(creds.token);

    const stale = fleet.startAgent({ token: creds.token, tier: "sudo", heartbeatMs: HEARTBEAT_MS });
    const staleExit = await stale.proc.waitForExit(30_000);
    expect(staleExit.code).toBe(EXIT_REFUSED);
    expect(stale.proc.stderr).toContain(explanation(CloseCode.UNAUTHORIZED));
    expect(stale.proc.stderr).not.toContain(creds.token);
    expect((await api.node("alpha")).status).toBe("disconnected");

    const renewed = fleet.startAgent({ token: rekeyed.token, tier: "sudo", heartbeatMs: HEARTBEAT_MS });
    await fleet.waitForStatus("alpha", "connected", 30_000, renewed.proc);

    const gone = await cortex.run(["node", "deregister", "alpha"]);
    expect(gone.code).toBe(0);
    expect(gone.stdout).toContain("Deregistered node alpha");
    const renewedExit = await renewed.proc.waitForExit(30_000);
    expect(renewedExit.code).toBe(EXIT_REFUSED);
    expect(renewed.proc.stderr).toContain(explanation(CloseCode.DEREGISTERED));
    const shown = NodeView.parse(await cortex.json(["node", "show", "alpha"]));
    expect(shown.status).toBe("deregistered");
    expect(shown.deregisteredAt).not.toBeNull();
  });

  it("marks a frozen agent (SIGSTOP, socket still open) disconnected within the heartbeat timeout, and it reconnects on its own when resumed", async () => {
    const node = await fleet.connectedNode("frozen", "unprivileged");
    const frozenAt = Date.now();
    node.proc.killGroup("SIGSTOP");
    try {
      const limit = MISSED_HEARTBEATS_ALLOWED * HEARTBEAT_MS + SWEEP_SLACK_MS;
      await fleet.waitForStatus("frozen", "disconnected", limit);
      expect(Date.now() - frozenAt).toBeLessThanOrEqual(limit);
      expect((await fleet.api.activity({ kind: "node", node: "frozen" })).entries.map((e) => e.message)).toContain("node frozen disconnected: it missed its heartbeats");
    } finally {
      node.proc.killGroup("SIGCONT");
    }
    await fleet.waitForConnectionSince("frozen", frozenAt, 30_000, node.proc);
  });

  it("an agent asking for a tier above the node's ceiling exits non-zero and the node shows error", async () => {
    const creds = await fleet.register("beta", "unprivileged");
    const agent = fleet.startAgent({ token: creds.token, tier: "root", heartbeatMs: HEARTBEAT_MS });
    const exit = await agent.proc.waitForExit(30_000);
    expect(exit.code).toBe(EXIT_REFUSED);
    expect(agent.proc.stderr).toContain(explanation(CloseCode.TIER_ABOVE_CEILING));
    const view = await fleet.api.node("beta");
    expect(view.status).toBe("error");
    expect(view.lastError).toContain("tier root requested, ceiling is unprivileged");
  });

  it("a second agent for a live node exits with 'already connected' while the first stays connected", async () => {
    const first = await fleet.connectedNode("gamma", "unprivileged");
    const before = await fleet.api.node("gamma");

    const second = fleet.startAgent({ token: first.creds.token, tier: "unprivileged", heartbeatMs: HEARTBEAT_MS });
    const exit = await second.proc.waitForExit(30_000);
    expect(exit.code).toBe(EXIT_REFUSED);
    expect(second.proc.stderr).toContain(explanation(CloseCode.ALREADY_CONNECTED));

    // Several heartbeats later the first connection is still the live one, untouched by the refused second.
    await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_MS));
    const after = await fleet.api.node("gamma");
    expect(first.proc.running).toBe(true);
    expect(after.status).toBe("connected");
    expect(after.connectedAt).toBe(before.connectedAt);
    expect(after.lastHeartbeatAt).toBeGreaterThan(before.lastHeartbeatAt ?? 0);
  });
});
