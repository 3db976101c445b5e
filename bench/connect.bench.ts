import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { waitFor } from "../test/support/wait-for.ts";
import { startBaseline } from "./lib/baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import { CpuMeter, rssMb, workerdProcesses } from "./lib/proc-stats.ts";
import type { BenchResult } from "./lib/results.ts";
import { closeAll, connectSimNodes, registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips, type SimNode } from "./lib/sim-node.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";

/**
 * 1,000 simulated nodes on one site: how long they take to connect, what their liveness traffic costs the hub
 * (round trips, workerd CPU) and how much memory workerd holds for them, each next to the same clients against
 * the bare `ws` baseline server.
 */
const NODES = Number(process.env.BENCH_NODES ?? 1_000);
const HEARTBEAT_MS = 2_000;
const SETTLE_MS = 3_000;
const MEASURE_MS = 10_000;
const BENCH = `connect ${NODES}`;

interface Phase {
  connectMs: number;
  trips: RoundTrips;
  cpuPercent: number;
  rssMb: number;
}

/** Keeps the nodes ticking, records a window of round trips and the server processes' CPU over it. */
async function measure(nodes: SimNode[], trips: RoundTrips, pids: number[], connectMs: number): Promise<Phase> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const meter = new CpuMeter(pids);
  trips.recording = true;
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  trips.recording = false;
  const cpu = meter.read();
  const rss = pids.reduce((sum, pid) => sum + rssMb(pid), 0);
  closeAll(nodes);
  return { connectMs, trips, cpuPercent: cpu.corePercent, rssMb: rss };
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  const hub = await TestHub.start(dirs);
  const baseline = await startBaseline();
  try {
    const workerd = workerdProcesses(hub.process!.pid!);
    const hubPids = [workerd.entry, workerd.user].filter((pid): pid is number => pid !== null);
    const idleRss = hubPids.reduce((sum, pid) => sum + rssMb(pid), 0);
    const baselineIdleRss = rssMb(baseline.pid);

    let start = process.hrtime.bigint();
    const creds = await registerSimNodes(hub.api, NODES, "sim");
    const registerMs = elapsedMs(start);

    const hubTrips = new RoundTrips();
    start = process.hrtime.bigint();
    const hubNodes = await connectSimNodes(creds, { url: hub.endpoint, heartbeatMs: HEARTBEAT_MS, trips: hubTrips });
    const hubConnectMs = elapsedMs(start);
    const listedConnected = async () => (await hub.api.nodes()).filter((n) => n.status === "connected").length;
    // On a loaded machine some nodes may be dropped for missed heartbeats (simulated nodes do not reconnect): the
    // figures are then reported with the count that stayed, rather than not at all.
    const connected = await waitFor("every simulated node to be listed connected", async () => ((await listedConnected()) === NODES ? NODES : undefined), { timeoutMs: 30_000 }).catch(listedConnected);
    const onHub = await measure(hubNodes, hubTrips, hubPids, hubConnectMs);

    const baseTrips = new RoundTrips();
    start = process.hrtime.bigint();
    const baseNodes = await connectSimNodes(creds, { url: baseline.wsUrl, heartbeatMs: HEARTBEAT_MS, trips: baseTrips });
    const onBase = await measure(baseNodes, baseTrips, [baseline.pid], elapsedMs(start));

    const row = (metric: string, unit: string, value: number, base: number | null, baselineLabel = "bare ws server"): BenchResult => ({ bench: BENCH, metric, unit, value, baseline: base, baselineLabel });
    const rate = (1000 * NODES) / HEARTBEAT_MS;
    return [
      row("register via API (25 in flight)", "s", registerMs / 1000, null, ""),
      row("connect all (50 handshakes in flight)", "s", onHub.connectMs / 1000, onBase.connectMs / 1000),
      row("nodes listed connected afterwards", "nodes", connected, NODES, "all of them"),
      row("heartbeat→ack p50", "ms", percentile(onHub.trips.heartbeats, 50), percentile(onBase.trips.heartbeats, 50)),
      row("heartbeat→ack p99", "ms", percentile(onHub.trips.heartbeats, 99), percentile(onBase.trips.heartbeats, 99)),
      row("ping→pong p50 (runtime auto-response)", "ms", percentile(onHub.trips.pings, 50), percentile(onBase.trips.pings, 50)),
      row("ping→pong p99", "ms", percentile(onHub.trips.pings, 99), percentile(onBase.trips.pings, 99)),
      row(`server CPU at ${rate} frames/s`, "% core", onHub.cpuPercent, onBase.cpuPercent),
      row(`server RSS with ${NODES} nodes`, "MiB", onHub.rssMb, onBase.rssMb),
      row("server RSS growth for the nodes", "MiB", onHub.rssMb - idleRss, onBase.rssMb - baselineIdleRss),
    ];
  } finally {
    await baseline.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
