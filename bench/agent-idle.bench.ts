import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_HEARTBEAT_MS } from "../protocol/limits.ts";
import { Fleet } from "../test/support/fleet.ts";
import { runIfMain } from "./lib/entry.ts";
import { CpuMeter, rssMb } from "./lib/proc-stats.ts";
import type { BenchResult } from "./lib/results.ts";

/**
 * A connected agent doing nothing but its liveness ticks at the default heartbeat interval: resident memory and CPU
 * of its whole process tree, next to an idle Node process (a timer and nothing else) measured over the same window.
 */
const WINDOW_MS = Number(process.env.BENCH_AGENT_IDLE_MS ?? 60_000);
const SETTLE_MS = 10_000;
const BENCH = "agent idle";

function tree(pid: number): number[] {
  const out = [pid];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const children = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    if (children) for (const child of children.split(/\s+/).map(Number)) out.push(...tree(child));
  }
  return out;
}

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const idle = spawn(process.execPath, ["-e", "setInterval(() => {}, 5000)"], { stdio: "ignore" });
  try {
    const agent = fleet.startAgent({ token: (await fleet.register("idle-agent", "root")).token, tier: "root", heartbeatMs: DEFAULT_HEARTBEAT_MS });
    await fleet.waitForStatus("idle-agent", "connected", 30_000, agent.proc);
    await sleep(SETTLE_MS);
    const agentPids = tree(agent.proc.pid);
    const agentCpu = new CpuMeter(agentPids);
    const idleCpu = new CpuMeter([idle.pid!]);
    await sleep(WINDOW_MS);
    const a = agentCpu.read();
    const b = idleCpu.read();
    const agentRss = agentPids.reduce((sum, pid) => sum + rssMb(pid), 0);
    const load = os.loadavg()[0]!.toFixed(1);
    const label = "idle Node process with a timer";
    return [
      { bench: BENCH, metric: `RSS of the agent's processes (${agentPids.length}), connected, ${DEFAULT_HEARTBEAT_MS / 1000} s heartbeat (load ${load})`, unit: "MiB", value: agentRss, baseline: rssMb(idle.pid!), baselineLabel: label },
      { bench: BENCH, metric: `CPU over ${WINDOW_MS / 1000} s idle (load ${load})`, unit: "% core", value: a.corePercent, baseline: b.corePercent, baselineLabel: label },
    ];
  } finally {
    idle.kill("SIGKILL");
    await fleet.close();
  }
}

await runIfMain(import.meta.url, run);
