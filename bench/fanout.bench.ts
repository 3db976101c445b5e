import { FanOutAggregate } from "../protocol/api.ts";
import { freePort } from "../test/support/free-port.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { startBaseline } from "./lib/baseline.ts";
import { HubProfiler, selfTimes } from "./lib/cpu-profile.ts";
import { devWorkerds, type DevWorkerds } from "./lib/direct-workerd.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { closeAll, connectSimNodes, registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips } from "./lib/sim-node.ts";
import { cpuMs } from "./lib/proc-stats.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";

/**
 * One `echo` directive fanned out to 1,000 simulated nodes that answer at once: time from the request until the
 * hub's aggregate is complete, next to the bare `ws` server sending the same directive to the same clients and
 * counting their results. The hub's own workerd CPU per member is read from /proc around each fan-out.
 *
 * BENCH_PROFILE=1 also prints where the hub's isolate spent its time during the first fan-out at each concurrency (a
 * V8 CPU profile through wrangler's DevTools inspector).
 */
const NODES = Number(process.env.BENCH_NODES ?? 1_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const PROFILE = process.env.BENCH_PROFILE === "1";
const BENCH = `fan-out ${NODES}`;

interface Sample {
  ms: number;
  /** The hub's workerd CPU over the fan-out, per member, in ms (NaN where /proc cannot tell). */
  cpuPerMember: number;
}

async function hubFanOut(hub: TestHub, concurrency: number, workerds: DevWorkerds | null): Promise<Sample> {
  const cpuBefore = workerds ? cpuMs(workerds.hubPid) : Number.NaN;
  const start = process.hrtime.bigint();
  const res = await fetch(`${hub.url}/api/sites/default/fanouts`, {
    method: "POST",
    headers: { Authorization: `Bearer ${hub.adminKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ action: "bash", params: { command: "echo ok" }, target: { all: true }, concurrency }),
  });
  const body = (await res.json()) as { aggregate: unknown };
  const ms = elapsedMs(start);
  const aggregate = FanOutAggregate.parse(body.aggregate);
  if (aggregate.total !== NODES || aggregate.succeeded !== NODES) throw new Error(`fan-out incomplete: ${JSON.stringify(aggregate)}`);
  return { ms, cpuPerMember: workerds ? (cpuMs(workerds.hubPid) - cpuBefore) / NODES : Number.NaN };
}

async function hubFanOuts(hub: TestHub, concurrency: number, workerds: DevWorkerds | null, profiler?: HubProfiler): Promise<Sample> {
  const samples: Sample[] = [];
  for (let i = 0; i < REPEATS; i++) {
    if (i === 0) await profiler?.start();
    samples.push(await hubFanOut(hub, concurrency, workerds));
    if (i === 0 && profiler) printProfile(concurrency, await profiler.stop());
  }
  return { ms: percentile(samples.map((s) => s.ms), 50), cpuPerMember: percentile(samples.map((s) => s.cpuPerMember), 50) };
}

function printProfile(concurrency: number, profile: Awaited<ReturnType<HubProfiler["stop"]>>): void {
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  console.log(`hub isolate during a fan-out to ${NODES} at concurrency ${concurrency}: ${total.toFixed(0)} ms sampled; self time by function:`);
  for (const t of selfTimes(profile, 30)) console.log(`${t.ms.toFixed(1).padStart(9)} ms  ${t.where}`);
}

async function baselineFanOut(url: string): Promise<number> {
  const start = process.hrtime.bigint();
  const res = await fetch(`${url}/fanout`, { method: "POST" });
  const { total } = (await res.json()) as { total: number };
  if (total !== NODES) throw new Error(`baseline fan-out reached ${total} nodes`);
  return elapsedMs(start);
}

async function median(times: number, task: () => Promise<number>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) samples.push(await task());
  return percentile(samples, 50);
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  const inspectorPort = PROFILE ? await freePort() : undefined;
  const hub = await TestHub.start(dirs, {}, inspectorPort);
  const baseline = await startBaseline();
  const profiler = inspectorPort ? await HubProfiler.connect(inspectorPort) : undefined;
  try {
    const workerds = await devWorkerds(hub.process!.pid!);
    const creds = await registerSimNodes(hub.api, NODES, "fan");
    // Slow liveness ticks: this bench is about directives, not heartbeats.
    const trips = new RoundTrips();
    const hubNodes = await connectSimNodes(creds, { url: hub.endpoint, heartbeatMs: 10_000, trips });
    const wide = await hubFanOuts(hub, NODES, workerds, profiler);
    const paced = await hubFanOuts(hub, 50, workerds, profiler);
    closeAll(hubNodes);

    const baseNodes = await connectSimNodes(creds, { url: baseline.wsUrl, heartbeatMs: 10_000, trips });
    const base = await median(REPEATS, () => baselineFanOut(baseline.httpUrl));
    closeAll(baseNodes);

    const label = "bare ws server, all at once";
    return [
      { bench: BENCH, metric: `echo to all, concurrency ${NODES} (median of ${REPEATS})`, unit: "ms", value: wide.ms, baseline: base, baselineLabel: label },
      { bench: BENCH, metric: `echo to all, concurrency 50 (default)`, unit: "ms", value: paced.ms, baseline: base, baselineLabel: label },
      { bench: BENCH, metric: `hub workerd CPU per member, concurrency ${NODES}`, unit: "ms", value: wide.cpuPerMember, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: `hub workerd CPU per member, concurrency 50`, unit: "ms", value: paced.cpuPerMember, baseline: null, baselineLabel: "" },
    ];
  } finally {
    profiler?.close();
    await baseline.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
