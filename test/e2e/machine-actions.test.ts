import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Fleet } from "../support/fleet.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * The chat's machine actions through the real API, hub and agent: a diagnostic and a management action on a root
 * node, and the same node's tier policy applied to a sudo node, as a chat, the CLI or the API would meet them.
 */

let fleet: Fleet;
const decoys: ChildProcess[] = [];

beforeAll(async () => {
  fleet = await Fleet.start();
  await fleet.connectedNode("box", "root");
  await fleet.connectedNode("ops", "sudo");
});

afterAll(async () => {
  for (const decoy of decoys) decoy.kill("SIGKILL");
  await fleet?.close();
});

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

describe("machine actions end to end", () => {
  it("answers system.info from the machine the agent runs on", async () => {
    const view = await fleet.api.runDirective("box", { action: "system.info", params: {} });
    expect(view).toMatchObject({ status: "done", errorCode: null });
    const info = JSON.parse(view.output ?? "") as { hostname: string; cpu: { cores: number }; agentVersion: string };
    expect(info.hostname).toBe(hostname());
    expect(info.cpu.cores).toBeGreaterThan(0);
  });

  it("kills a process by name pattern with process.signal, and shows it in the directive history", async () => {
    const name = `cxe2e${process.pid % 100000}`;
    const dir = fleet.dirs.make("cortex-decoy-");
    copyFileSync("/bin/sleep", join(dir, name));
    chmodSync(join(dir, name), 0o755);
    const decoy = spawn(join(dir, name), ["300"], { stdio: "ignore" });
    decoys.push(decoy);
    await waitFor("the decoy to start", () => alive(decoy.pid!) || undefined);

    const dryRun = await fleet.api.runDirective("box", { action: "process.signal", params: { pattern: `^${name}$`, operation: "kill", dryRun: true } });
    expect(JSON.parse(dryRun.output ?? "").wouldSignal.rows).toEqual([[decoy.pid, "root", name, `${join(dir, name)} 300`]]);
    expect(alive(decoy.pid!)).toBe(true);

    const view = await fleet.api.runDirective("box", { action: "process.signal", params: { pattern: `^${name}$`, operation: "kill" } });
    expect(view).toMatchObject({ status: "done" });
    expect(JSON.parse(view.output ?? "").results.rows).toEqual([[decoy.pid, "root", name, "ended after SIGTERM"]]);
    await waitFor("the decoy to end", () => !alive(decoy.pid!) || undefined);
    const history = await fleet.api.directives({ node: "box", action: "process.signal" });
    expect(history.directives.map((d) => d.id)).toContain(view.id);
  });

  it("never lets a pattern reach the agent itself", async () => {
    const view = await fleet.api.runDirective("box", { action: "process.signal", params: { pattern: "cortex", operation: "kill", matchFullCommand: true, dryRun: true, maxProcesses: 200 } });
    const answer = JSON.parse(view.output ?? "") as { protected: { rows: [number, string, string][] } };
    expect(answer.protected.rows.map((r) => r[2])).toContain("the Cortex agent itself");
  });

  it("refuses on the hub what a sudo node may not do, and runs what it may", async () => {
    const reboot = await fleet.api.runDirective("ops", { action: "system.reboot", params: { delayMinutes: 60 } });
    expect(reboot).toMatchObject({ status: "refused", errorCode: "tier_refused", error: "rebooting the machine needs tier root" });
    const health = await fleet.api.runDirective("ops", { action: "agent.health", params: {} });
    expect(health.status).toBe("done");
    expect(JSON.parse(health.output ?? "")).toMatchObject({ tier: "sudo", connectionsSinceStart: 1 });
  });

  it("runs a catalog tool from the CLI by its chat name", async () => {
    const out = await fleet.cortex.run(["tool", "get_agent_health", "box"]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ tier: "root" });
  });
});
