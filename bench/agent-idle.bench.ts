import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ACTION_WORKER_FLAG } from "../agent/bundle.ts";
import { resolveActionUser } from "../agent/privilege/action-user.ts";
import { WORKER_IDLE_MS } from "../agent/worker/file-runner.ts";
import { DEFAULT_HEARTBEAT_MS } from "../protocol/limits.ts";
import { agentFiles } from "../scripts/build-agent.ts";
import { IS_ROOT, TEST_ACTION_USER, testRunAs } from "../test/support/action-user.ts";
import { Fleet } from "../test/support/fleet.ts";
import { ManagedProcess } from "../test/support/processes.ts";
import { REPO_ROOT } from "../test/support/test-hub.ts";
import { runIfMain } from "./lib/entry.ts";
import { processTree, rssMb, treeCpuMs } from "./lib/proc-stats.ts";
import type { BenchResult } from "./lib/results.ts";
import { percentile } from "./lib/stats.ts";

/**
 * Connected agents doing nothing but their liveness ticks at the default heartbeat interval, at the default install
 * tier (unprivileged: actions run as the action user): resident memory and CPU of each one's whole process tree, next
 * to an idle Node process (a timer and nothing else) measured over the same window.
 *
 * The agent measured first is the one users run: the bundle the hub serves, started by plain `node` with the command
 * line and the clean environment of the installed systemd unit. The same agent run from a checkout (`cortex node
 * connect` through tsx) is the second line. The window starts after the action worker of the start-up check has had
 * time to go idle and exit, as it does on every installed agent a minute after its start. What that saving costs is
 * the last figure: the first file action after a quiet minute waits for a new worker, from spawn to its ready message,
 * next to a bare Node process doing the same.
 */
const WINDOW_MS = Number(process.env.BENCH_AGENT_IDLE_MS ?? 60_000);
const SETTLE_MS = WORKER_IDLE_MS + 10_000;
const TIER = "unprivileged";
const BENCH = "agent idle";
const COLD_STARTS = 9;

/** Milliseconds from spawning `args` under node, with an IPC pipe, to the first message it sends. */
async function timeToFirstMessage(args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const child = spawn(process.execPath, args, { cwd: "/", stdio: ["ignore", "ignore", "inherit", "ipc"], serialization: "advanced" });
  const ms = await new Promise<number>((resolve, reject) => {
    child.once("message", () => resolve(Number(process.hrtime.bigint() - start) / 1e6));
    child.once("exit", (code) => reject(new Error(`exited ${code} before its first message`)));
  });
  child.disconnect();
  await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(null)));
  return ms;
}

/** The action worker started from the bundle as the action user, as the agent starts it for a file action. */
async function workerColdStarts(bundle: string): Promise<{ worker: number[]; bare: number[] }> {
  const user = resolveActionUser({ tier: TIER, runAs: TEST_ACTION_USER });
  const identity = JSON.stringify({ name: user.name, uid: user.uid, gid: user.gid, groups: user.groups });
  const worker: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    worker.push(await timeToFirstMessage([bundle, ACTION_WORKER_FLAG, identity]));
    bare.push(await timeToFirstMessage(["-e", "process.send('ready')"]));
  }
  return { worker, bare };
}

interface Measured {
  pid: number;
  label: string;
}

/** The installed agent: the served bundle run by `node`, with the unit's ExecStart and a systemd-like environment. */
async function startBundledAgent(fleet: Fleet, token: string): Promise<{ agent: ManagedProcess; bundle: string }> {
  const { files, release } = await agentFiles(REPO_ROOT);
  const prefix = fleet.dirs.make("cortex-bench-install-");
  const bundle = join(prefix, release.bundle.split("/").pop()!);
  writeFileSync(bundle, files.get(release.bundle.slice(1))!);
  const tokenFile = join(prefix, "node.token");
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const runAs = testRunAs();
  const connect = {
    endpoint: fleet.hub.endpoint,
    tokenFile,
    tier: TIER,
    stateDir: join(prefix, "state"),
    sandboxRoot: join(fleet.dirs.makeOpen("cortex-bench-sandbox-"), "sandbox"),
    ...(runAs && { runAs }),
  };
  const config = join(prefix, "config.json");
  writeFileSync(config, JSON.stringify({ connect }), { mode: 0o600 });
  // What systemd gives a system service: a PATH and nothing else of ours.
  const env = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
  const agent = fleet.procs.add(new ManagedProcess("agent (bundle)", process.execPath, [bundle, "node", "connect", "--config", config], { cwd: "/", env }));
  return { agent, bundle };
}

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const idle = spawn(process.execPath, ["-e", "setInterval(() => {}, 5000)"], { stdio: "ignore" });
  try {
    const { agent: bundled, bundle } = await startBundledAgent(fleet, (await fleet.register("idle-bundle", TIER)).token);
    const checkout = fleet.startAgent({ token: (await fleet.register("idle-checkout", TIER)).token, tier: TIER, heartbeatMs: DEFAULT_HEARTBEAT_MS });
    await fleet.waitForStatus("idle-bundle", "connected", 30_000, bundled);
    await fleet.waitForStatus("idle-checkout", "connected", 30_000, checkout.proc);
    await sleep(SETTLE_MS);

    const measured: Measured[] = [
      { pid: bundled.pid, label: "the installed agent: served bundle, plain node, the unit's command line" },
      { pid: checkout.proc.pid, label: "the agent from a checkout (bin/cortex.mjs through tsx)" },
    ];
    const startCpu = measured.map(({ pid }) => treeCpuMs(pid));
    const idleStart = treeCpuMs(idle.pid!);
    const startedAt = Date.now();
    await sleep(WINDOW_MS);
    const wallMs = Date.now() - startedAt;
    const idleCpu = (100 * (treeCpuMs(idle.pid!) - idleStart)) / wallMs;
    const idleRss = rssMb(idle.pid!);
    const load = os.loadavg()[0]!.toFixed(1);
    const label = "idle Node process with a timer";
    const heartbeat = `${DEFAULT_HEARTBEAT_MS / 1000} s heartbeat, tier ${TIER}`;
    const results: BenchResult[] = measured.flatMap(({ pid, label: what }, i) => {
      const pids = processTree(pid);
      const rss = pids.reduce((sum, p) => sum + rssMb(p), 0);
      const cpu = (100 * (treeCpuMs(pid) - startCpu[i]!)) / wallMs;
      return [
        { bench: BENCH, metric: `RSS, ${what}, ${pids.length} process(es), ${heartbeat} (load ${load})`, unit: "MiB", value: rss, baseline: idleRss, baselineLabel: label },
        { bench: BENCH, metric: `CPU over ${Math.round(wallMs / 1000)} s, ${what} (load ${load})`, unit: "% core", value: cpu, baseline: idleCpu, baselineLabel: label },
      ];
    });
    if (IS_ROOT) {
      const { worker, bare } = await workerColdStarts(bundle);
      results.push({ bench: BENCH, metric: `action worker start (first file action after a quiet minute), p50 of ${COLD_STARTS}`, unit: "ms", value: percentile(worker, 50), baseline: percentile(bare, 50), baselineLabel: "bare node to its first IPC message" });
    }
    return results;
  } finally {
    idle.kill("SIGKILL");
    await fleet.close();
  }
}

await runIfMain(import.meta.url, run);
