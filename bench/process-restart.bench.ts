import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ProcessSupervisor } from "../agent/supervisor/process-supervisor.ts";
import { ProcessConfig, RELAUNCH_CEILING } from "../protocol/processes.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { percentile } from "./lib/stats.ts";

/**
 * Time from a crash to the restarted program running, measured from the kill to the first instruction of the new
 * instance (it writes the clock to a file). The decision is the agent's alone (the hub only hears about it), so this
 * runs the agent's own supervisor code in-process. Two cases: an instance the agent spawned itself, whose exit the
 * kernel reports at once; and an instance adopted after an agent restart, which the agent is not the parent of and
 * notices on its next look (once a second). The baseline, in the same run, is the floor: spawning the same program
 * directly from Node and waiting for the same first instruction.
 */
const CHILD_RUNS = Number(process.env.BENCH_RESTART_RUNS ?? 30);
const ADOPTED_RUNS = Number(process.env.BENCH_RESTART_ADOPTED_RUNS ?? 8);
const WARMUP = 3;
const BENCH = "process restart";

/** Wall-clock milliseconds with a microsecond fraction, comparable with `date +%s%N` from the program. */
function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

function startedAt(file: string): number | null {
  try {
    const ns = readFileSync(file, "utf8").trim();
    return ns ? Number(BigInt(ns) / 1000n) / 1000 : null;
  } catch {
    return null;
  }
}

async function waitForStart(file: string, after: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const at = startedAt(file);
    if (at !== null && at > after) return at;
    if (Date.now() > deadline) throw new Error(`no new instance within ${timeoutMs} ms`);
    await sleep(1);
  }
}

function program(file: string): { command: string; args: string[] } {
  return { command: "/bin/sh", args: ["-c", `date +%s%N > ${file}; exec sleep 600`] };
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "cortex-bench-restart-"));
  const file = join(dir, "started");
  const log = () => undefined;
  const options = { tier: "root" as const, sandboxRoot: dir, log, tickMs: 1_000 };
  const config = ProcessConfig.parse({
    version: 1,
    processes: [{ name: "victim", ...program(file), startupSeconds: 0, restart: { maxAttempts: 100, windowSeconds: 1, backoffSeconds: 0, maxBackoffSeconds: 0 } }],
  });
  let supervisor = new ProcessSupervisor({ ...options, dir: join(dir, "state") });
  const pid = () => supervisor.status().processes[0]?.pid ?? null;
  try {
    supervisor.start();
    supervisor.applyConfig(config);
    await waitForStart(file, 0);

    const crash = async (): Promise<number> => {
      const victim = pid();
      if (!victim) throw new Error("nothing to kill");
      const killedAt = wallNow();
      process.kill(victim, "SIGKILL");
      const restartedAt = await waitForStart(file, killedAt);
      // Spread the crashes so that no window holds enough relaunches to give up: the policy's (1 s) nor the agent's
      // own ceiling (10 within 10 s, whatever the policy).
      await sleep(RELAUNCH_CEILING.withinMs / (RELAUNCH_CEILING.count - 1));
      return restartedAt - killedAt;
    };

    const child: number[] = [];
    for (let i = 0; i < WARMUP + CHILD_RUNS; i++) {
      const ms = await crash();
      if (i >= WARMUP) child.push(ms);
    }

    // The agent restarts: the running instance is adopted by a new supervisor, which is not its parent.
    const adopted: number[] = [];
    for (let i = 0; i < ADOPTED_RUNS; i++) {
      supervisor.close();
      supervisor = new ProcessSupervisor({ ...options, dir: join(dir, "state") });
      supervisor.start();
      // Kill at a random point of the second between two looks, as a real crash would fall.
      await sleep(Math.random() * 1_000);
      adopted.push(await crash());
    }

    const direct: number[] = [];
    for (let i = 0; i < WARMUP + CHILD_RUNS; i++) {
      const before = wallNow();
      const p = program(file);
      const proc = spawn(p.command, p.args, { stdio: "ignore", detached: true });
      const at = await waitForStart(file, before);
      process.kill(-proc.pid!, "SIGKILL");
      if (i >= WARMUP) direct.push(at - before);
    }

    const floor = "spawning the program from Node directly";
    return [
      { bench: BENCH, metric: `crash → new instance running (agent's own child), p50 of ${CHILD_RUNS}`, unit: "ms", value: percentile(child, 50), baseline: percentile(direct, 50), baselineLabel: floor },
      { bench: BENCH, metric: `crash → new instance running (agent's own child), p99 of ${CHILD_RUNS}`, unit: "ms", value: percentile(child, 99), baseline: percentile(direct, 99), baselineLabel: floor },
      { bench: BENCH, metric: `crash → new instance running (adopted after an agent restart), p50 of ${ADOPTED_RUNS}`, unit: "ms", value: percentile(adopted, 50), baseline: percentile(direct, 50), baselineLabel: floor },
      { bench: BENCH, metric: `crash → new instance running (adopted after an agent restart), max of ${ADOPTED_RUNS}`, unit: "ms", value: Math.max(...adopted), baseline: null, baselineLabel: "" },
    ];
  } finally {
    const last = pid();
    supervisor.close();
    if (last) {
      try {
        process.kill(-last, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, run);
