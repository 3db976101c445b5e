import { FanOutAggregate } from "../protocol/api.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { startBaseline } from "./lib/baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { closeAll, connectSimNodes, registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips } from "./lib/sim-node.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";

/**
 * One `echo` directive fanned out to 1,000 simulated nodes that answer at once: time from the request until the
 * hub's aggregate is complete, next to the bare `ws` server sending the same directive to the same clients and
 * counting their results.
 */
const NODES = Number(process.env.BENCH_NODES ?? 1_000);
const REPEATS = 3;
const BENCH = `fan-out ${NODES}`;

async function hubFanOut(hub: TestHub, concurrency: number): Promise<number> {
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
  return ms;
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
  const hub = await TestHub.start(dirs);
  const baseline = await startBaseline();
  try {
    const creds = await registerSimNodes(hub.api, NODES, "fan");
    // Slow liveness ticks: this bench is about directives, not heartbeats.
    const trips = new RoundTrips();
    const hubNodes = await connectSimNodes(creds, { url: hub.endpoint, heartbeatMs: 10_000, trips });
    const wide = await median(REPEATS, () => hubFanOut(hub, NODES));
    const paced = await median(REPEATS, () => hubFanOut(hub, 50));
    closeAll(hubNodes);

    const baseNodes = await connectSimNodes(creds, { url: baseline.wsUrl, heartbeatMs: 10_000, trips });
    const base = await median(REPEATS, () => baselineFanOut(baseline.httpUrl));
    closeAll(baseNodes);

    const label = "bare ws server, all at once";
    return [
      { bench: BENCH, metric: `echo to all, concurrency ${NODES} (median of ${REPEATS})`, unit: "ms", value: wide, baseline: base, baselineLabel: label },
      { bench: BENCH, metric: `echo to all, concurrency 50 (default)`, unit: "ms", value: paced, baseline: base, baselineLabel: label },
    ];
  } finally {
    await baseline.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
