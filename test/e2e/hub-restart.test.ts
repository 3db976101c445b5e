import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DirectiveView, type NodeView } from "../../protocol/api.ts";
import { Fleet } from "../support/fleet.ts";
import { waitFor } from "../support/wait-for.ts";

let fleet: Fleet;

beforeAll(async () => {
  fleet = await Fleet.start();
});

afterAll(async () => {
  await fleet?.close();
});

/** What a registration is, apart from its live connection state. */
function registration(view: NodeView) {
  return { id: view.id, name: view.name, group: view.group, tier: view.tier, createdAt: view.createdAt, tokenPrefix: view.tokenPrefix, deregisteredAt: view.deregisteredAt };
}

/** Stops and starts the hub on the same port and state; returns when it went down. */
async function restartHub(): Promise<number> {
  await fleet.hub.stop();
  const downAt = Date.now();
  await fleet.hub.start();
  return downAt;
}

describe("restarting the hub", () => {
  it("keeps every registration, and running agents reconnect on their own without being restarted", async () => {
    const a = await fleet.connectedNode("restart-a", "sudo", { group: "restart" });
    const b = await fleet.connectedNode("restart-b", "unprivileged", { group: "restart" });
    await fleet.register("restart-idle", "root");
    await fleet.register("restart-gone", "unprivileged");
    await fleet.api.raw("DELETE", fleet.api.sitePath("/nodes/restart-gone"));
    const before = (await fleet.api.nodes()).map(registration).sort((x, y) => x.id.localeCompare(y.id));
    const pids = [a.proc.pid, b.proc.pid];

    const downAt = await restartHub();

    const after = (await fleet.api.nodes()).map(registration).sort((x, y) => x.id.localeCompare(y.id));
    expect(after).toEqual(before);
    await fleet.waitForConnectionSince("restart-a", downAt, 60_000, a.proc);
    await fleet.waitForConnectionSince("restart-b", downAt, 60_000, b.proc);
    expect([a.proc.pid, b.proc.pid]).toEqual(pids);
    expect(a.proc.running && b.proc.running).toBe(true);
    expect((await fleet.api.node("restart-idle")).status).not.toBe("connected");
    expect((await fleet.api.node("restart-gone")).status).toBe("deregistered");

    // The old tokens still work: a directive goes through the reconnected agent.
    const view = await fleet.api.runDirective("restart-a", { action: "bash", params: { command: "echo still-here" } });
    expect(view.status).toBe("done");
    expect(view.output).toBe("still-here\n");
  });

  it("reports a long run that ended while the hub was down exactly once, even after the agent reconnects again", async () => {
    const node = await fleet.connectedNode("runner", "sudo");
    const marker = fleet.marker("long-run");
    const launched = await fleet.cortex.run(["run", "launch", "runner", "--json", "--", `sleep 3; echo ${marker}-finished`]);
    expect(launched.code).toBe(0);
    const view = DirectiveView.parse(JSON.parse(launched.stdout));
    if (view.data?.kind !== "run") throw new Error(`run launch answered without a run id: ${launched.stdout}`);
    const runId = view.data.runId;

    await fleet.hub.stop();
    // The watcher marks a finished run as unreported; seeing the mark proves it ended while nobody could hear it.
    const pending = join(node.stateDir, "runs", runId, "callback.pending");
    await waitFor("the run to end while the hub is down", () => existsSync(pending), { timeoutMs: 30_000 });
    await fleet.hub.start();

    const ended = async () =>
      (await fleet.api.activity({ kind: "directive", limit: 500 })).entries.filter((e) => e.data?.runId === runId && e.data?.runState !== undefined);
    const first = await waitFor("the run's completion in the activity log", async () => {
      const entries = await ended();
      return entries.length ? entries : undefined;
    }, { timeoutMs: 60_000 });
    expect(first).toHaveLength(1);
    // The launch's own entry tells how the run ended.
    expect(first[0]!.directiveId).toBe(view.id);
    expect(first[0]!.message).toMatch(new RegExp(`run ${runId} ended done \\(exit 0\\)`));
    await waitFor("the agent to forget the acknowledged run", () => !existsSync(pending), { timeoutMs: 20_000 });

    // A second reconnect of the same machine (same state folder) must not report it again.
    node.proc.signal("SIGTERM");
    expect((await node.proc.waitForExit(30_000)).code).toBe(0);
    const again = fleet.startAgent({ token: node.creds.token, tier: "sudo", sandbox: node.sandbox, stateDir: node.stateDir });
    await fleet.waitForStatus("runner", "connected", 30_000, again.proc);
    const downAt = await restartHub();
    await fleet.waitForConnectionSince("runner", downAt, 60_000, again.proc);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await ended()).toEqual(first);

    const status = await fleet.cortex.run(["run", "status", "runner", runId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`run ${runId}: done, exit 0`);
    expect(status.stdout).toContain(`${marker}-finished`);

    // The machine goes away; the hub still answers with the run's end.
    again.proc.signal("SIGTERM");
    expect((await again.proc.waitForExit(30_000)).code).toBe(0);
    await fleet.waitForStatus("runner", "disconnected", 30_000);
    const offline = await fleet.cortex.run(["run", "status", "runner", runId]);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toContain(`run ${runId}: done, exit 0`);
    expect(offline.stdout).toContain(`${marker}-finished`);
    expect(offline.stderr).toContain("from the hub's record");
  });
});
