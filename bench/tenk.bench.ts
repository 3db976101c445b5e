import { readdirSync, readlinkSync } from "node:fs";
import WebSocket from "ws";
import { DirectiveView, FanOutAggregate } from "../protocol/api.ts";
import { LiveMessage } from "../protocol/live-messages.ts";
import { closeCodeInfo } from "../protocol/close-codes.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { DIRECT_HUB_RUNTIME, DirectHub } from "./lib/direct-hub.ts";
import { runIfMain } from "./lib/entry.ts";
import { KeepAliveClient } from "./lib/http-client.ts";
import { cpuMs, rssMb } from "./lib/proc-stats.ts";
import type { BenchResult } from "./lib/results.ts";
import { registerSimNodes } from "./lib/sim-fleet.ts";
import { FleetProcesses } from "./lib/sim-fleet-processes.ts";
import { elapsedMs, mean, percentile } from "./lib/stats.ts";

/**
 * 10,000 simulated nodes on one site (`BENCH_TENK_NODES` to change it), heartbeating at the agent's real rhythm
 * (a "ping" every 5 s, a full heartbeat with metrics every second one), spread over several client processes.
 * The same measures are taken first with the baseline's 100 nodes connected, then with all of them, in one run:
 * directive latency (a `read` through the API to a simulated node), fan-out, liveness round trips, the hub's CPU
 * over a window without directives divided by the liveness frames it answered, its RSS per connected node and the
 * sockets it holds. The hub is the real Worker bundle on Miniflare's workerd with no proxy in front (see
 * DirectHub: under `wrangler dev` the proxy's workerd would need two descriptors per node, past this machine's limit).
 */
const NODES = Number(process.env.BENCH_TENK_NODES ?? 10_000);
const BASELINE_NODES = 100;
const FANOUT_NODES = Math.min(1_000, NODES);
const PROCESSES = Number(process.env.BENCH_TENK_PROCESSES ?? 4);
const HEARTBEAT_MS = 5_000;
/** Handshakes in flight per client process while ramping up. */
const CONNECT_CONCURRENCY = 10;
const REGISTER_CONCURRENCY = 25;
const DIRECTIVES = Number(process.env.BENCH_TENK_DIRECTIVES ?? 200);
const IDLE_WINDOW_MS = Number(process.env.BENCH_TENK_WINDOW_MS ?? 20_000);
const DASHBOARD_ROUNDS = 2;
const BENCH = `${NODES.toLocaleString("en")} nodes, one site`;

interface Phase {
  nodes: number;
  read: number[];
  failed: number;
  fanOut100: { ms: number; succeeded: number };
  getNodesMs: number;
  heartbeats: number[];
  pings: number[];
  cpuMsPerFrame: number;
  rssMb: number;
  sockets: number;
}

/** Open sockets of a process, from its descriptor table. */
function socketCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n += 1;
    } catch {
      // Closed while listing.
    }
  }
  return n;
}

/** A fan-out of a `read` to `nodes`: the time until the hub's aggregate is complete, and how many succeeded. */
async function fanOut(client: KeepAliveClient, nodes: string[], concurrency?: number): Promise<{ ms: number; succeeded: number }> {
  const start = process.hrtime.bigint();
  const body = JSON.stringify({ action: "read", params: { path: "/etc/hostname" }, target: { nodes }, ...(concurrency ? { concurrency } : {}) });
  const aggregate = FanOutAggregate.parse((JSON.parse(await client.request("POST", "/api/sites/default/fanouts", body)) as { aggregate: unknown }).aggregate);
  return { ms: elapsedMs(start), succeeded: aggregate.succeeded };
}

/**
 * Directives one after the other, round-robin over `nodes`: a small `read`, answered at once by a simulated node.
 * One that does not end `done` (its node was dropped meanwhile) is counted, not timed.
 */
async function reads(client: KeepAliveClient, nodes: string[], count: number): Promise<{ ms: number[]; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  const body = JSON.stringify({ action: "read", params: { path: "/etc/hostname" } });
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const view = DirectiveView.parse(JSON.parse(await client.request("POST", `/api/sites/default/nodes/${nodes[i % nodes.length]}/directives`, body)));
    if (view.status === "done") ms.push(elapsedMs(start));
    else failed += 1;
  }
  return { ms, failed };
}

/** A window in which the hub does nothing but answer the fleet's liveness frames: its CPU per frame, and the trips. */
async function liveness(hub: DirectHub, fleet: FleetProcesses): Promise<{ cpuMsPerFrame: number; heartbeats: number[]; pings: number[] }> {
  await fleet.record(true);
  const cpu0 = cpuMs(hub.workerdPid);
  await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
  const cpu = cpuMs(hub.workerdPid) - cpu0;
  const { heartbeats, pings } = await fleet.record(false);
  return { cpuMsPerFrame: cpu / (heartbeats.length + pings.length), heartbeats, pings };
}

async function measure(hub: DirectHub, fleet: FleetProcesses, client: KeepAliveClient, ids: string[]): Promise<Phase> {
  const pid = hub.workerdPid;
  // Liveness alone first.
  const { cpuMsPerFrame, heartbeats, pings } = await liveness(hub, fleet);
  const rss = rssMb(pid);
  const sockets = socketCount(pid);
  // Warm-up of the directive path, then the measured reads spread over the connected nodes.
  await reads(client, ids, 20);
  const spread = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / DIRECTIVES)) === 0);
  const read = await reads(client, spread, DIRECTIVES);
  const fanOut100 = await fanOut(client, ids.slice(0, BASELINE_NODES));
  const start = process.hrtime.bigint();
  await client.request("GET", "/api/sites/default/nodes");
  const getNodesMs = elapsedMs(start);
  return { nodes: ids.length, read: read.ms, failed: read.failed, fanOut100, getNodesMs, heartbeats, pings, cpuMsPerFrame, rssMb: rss, sockets };
}

/**
 * The same liveness window with one dashboard watching the site's live socket: the hub's CPU per frame, how many
 * messages the dashboard got a second, and how long its first snapshot (every node) took to arrive.
 */
async function watched(hub: DirectHub, fleet: FleetProcesses): Promise<{ cpuMsPerFrame: number; messagesPerS: number; snapshotMs: number }> {
  const start = process.hrtime.bigint();
  const viewer = new WebSocket(`${hub.url.replace(/^http/, "ws")}/api/sites/default/live`, { headers: { Authorization: `Bearer ${hub.adminKey}` }, perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
  let messages = 0;
  const snapshot = new Promise<number>((resolve, reject) => {
    viewer.on("message", (data: Buffer) => {
      messages += 1;
      if (LiveMessage.parse(JSON.parse(data.toString())).type === "snapshot") resolve(elapsedMs(start));
    });
    viewer.once("error", reject);
  });
  try {
    const snapshotMs = await snapshot;
    messages = 0;
    const { cpuMsPerFrame } = await liveness(hub, fleet);
    return { cpuMsPerFrame, messagesPerS: messages / (IDLE_WINDOW_MS / 1000), snapshotMs };
  } finally {
    viewer.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  const hub = await DirectHub.start(dirs);
  const fleet = FleetProcesses.start(PROCESSES);
  const client = new KeepAliveClient(hub.url, { Authorization: `Bearer ${hub.adminKey}` });
  try {
    const pid = hub.workerdPid;
    let start = process.hrtime.bigint();
    const creds = await registerSimNodes(hub.api, NODES, "tenk", REGISTER_CONCURRENCY);
    const registerS = elapsedMs(start) / 1000;
    const rssBefore = rssMb(pid);

    const base = creds.slice(0, BASELINE_NODES);
    let ramp = await fleet.connect(hub.endpoint, base, HEARTBEAT_MS, CONNECT_CONCURRENCY);
    if (ramp.failed) throw new Error(`${ramp.failed} of the baseline nodes did not connect: ${ramp.firstError}`);
    const baseIds = ramp.opened;
    const small = await measure(hub, fleet, client, baseIds);

    start = process.hrtime.bigint();
    ramp = await fleet.connect(hub.endpoint, creds.slice(BASELINE_NODES), HEARTBEAT_MS, CONNECT_CONCURRENCY);
    const rampS = elapsedMs(start) / 1000;
    process.stderr.write(`tenk: ${ramp.opened.length} more nodes connected in ${rampS.toFixed(1)} s, ${ramp.failed} failed${ramp.firstError ? ` (${ramp.firstError})` : ""}\n`);
    // One full heartbeat round at scale before measuring, so every node has sent its first heartbeat.
    await new Promise((r) => setTimeout(r, 2 * HEARTBEAT_MS));
    const connected = [...baseIds, ...ramp.opened];
    const large = await measure(hub, fleet, client, connected);
    const fanOutIds = connected.filter((_, i) => i % Math.floor(connected.length / FANOUT_NODES) === 0).slice(0, FANOUT_NODES);
    const fanOutDefault = await fanOut(client, fanOutIds);
    const fanOutWide = await fanOut(client, fanOutIds, FANOUT_NODES);
    // Windows with and without the dashboard alternate: one window's CPU per frame varies by half (collections, what
    // the fan-outs left), more than the dashboard costs.
    const watching: Awaited<ReturnType<typeof watched>>[] = [];
    const unwatched: number[] = [];
    for (let i = 0; i < DASHBOARD_ROUNDS; i++) {
      unwatched.push((await liveness(hub, fleet)).cpuMsPerFrame);
      watching.push(await watched(hub, fleet));
    }
    const status = await fleet.status();
    const clientSockets = Math.max(...fleet.pids.map(socketCount));

    const row = (metric: string, unit: string, value: number, baseline: number | null, baselineLabel = `${BASELINE_NODES} nodes connected`): BenchResult => ({ bench: BENCH, metric, unit, value, baseline, baselineLabel });
    const both = (metric: string, unit: string, of: (p: Phase) => number) => row(metric, unit, of(large), of(small));
    const perNode = (p: Phase) => ((p.rssMb - rssBefore) * 1024) / p.nodes;
    return [
      row(`runtime: ${DIRECT_HUB_RUNTIME}`, "", Number.NaN, null, ""),
      row(`register via API (${REGISTER_CONCURRENCY} in flight)`, "nodes/s", NODES / registerS, null, ""),
      row(`ramp: WebSocket upgrade + register (${PROCESSES}×${CONNECT_CONCURRENCY} in flight)`, "nodes/s", ramp.opened.length / rampS, null, ""),
      row("nodes that failed to connect", "nodes", ramp.failed, 0, "none"),
      row("sockets still open at the end (client side)", "nodes", status.open, connected.length, "all connected"),
      ...Object.entries(status.closed).map(([code, n]) => row(`  ended before the run did, code ${code} (${closeCodeInfo(Number(code))?.reason ?? "unknown"})`, "nodes", n, null, "")),
      both(`reads of the ${DIRECTIVES} that did not end done`, "directives", (p) => p.failed),
      both("read via API → simulated node, p50", "ms", (p) => percentile(p.read, 50)),
      both("read via API → simulated node, p99", "ms", (p) => percentile(p.read, 99)),
      both(`fan-out of a read to the first ${BASELINE_NODES} nodes (default concurrency)`, "ms", (p) => p.fanOut100.ms),
      both(`  of which succeeded`, "nodes", (p) => p.fanOut100.succeeded),
      row(`fan-out of a read to ${FANOUT_NODES} of them (default concurrency)`, "ms", fanOutDefault.ms, small.fanOut100.ms, `${BASELINE_NODES} nodes, ${BASELINE_NODES} connected`),
      row(`  of which succeeded`, "nodes", fanOutDefault.succeeded, fanOutIds.length, "all of them"),
      row(`fan-out of a read to ${FANOUT_NODES} of them (concurrency ${FANOUT_NODES})`, "ms", fanOutWide.ms, small.fanOut100.ms, `${BASELINE_NODES} nodes, ${BASELINE_NODES} connected`),
      row(`  of which succeeded`, "nodes", fanOutWide.succeeded, fanOutIds.length, "all of them"),
      both("GET /nodes (every node of the site)", "ms", (p) => p.getNodesMs),
      both("heartbeat→ack p50", "ms", (p) => percentile(p.heartbeats, 50)),
      both("heartbeat→ack p99", "ms", (p) => percentile(p.heartbeats, 99)),
      both("ping→pong p50 (runtime auto-response)", "ms", (p) => percentile(p.pings, 50)),
      both("ping→pong p99", "ms", (p) => percentile(p.pings, 99)),
      both(`liveness frames answered in ${IDLE_WINDOW_MS / 1000} s without directives`, "frames", (p) => p.heartbeats.length + p.pings.length),
      both("hub CPU per liveness frame (workerd CPU time / frames; half are full heartbeats)", "µs", (p) => p.cpuMsPerFrame * 1000),
      row(`  the same with one dashboard watching the live socket (mean of ${DASHBOARD_ROUNDS} windows)`, "µs", mean(watching.map((w) => w.cpuMsPerFrame)) * 1000, mean(unwatched) * 1000, "no dashboard, the windows between"),
      row("  messages to that dashboard", "/s", mean(watching.map((w) => w.messagesPerS)), (large.heartbeats.length / IDLE_WINDOW_MS) * 1000, "full heartbeats a second"),
      row("  its first snapshot (every node), open to received", "ms", watching[0]!.snapshotMs, null, ""),
      both("hub CPU over the window", "% core", (p) => ((p.cpuMsPerFrame * (p.heartbeats.length + p.pings.length)) / IDLE_WINDOW_MS) * 100),
      both("workerd RSS", "MiB", (p) => p.rssMb),
      both("workerd RSS per connected node", "KiB", perNode),
      both("sockets held by workerd (all of them, listening and HTTP included)", "sockets", (p) => p.sockets),
      row("sockets held by the busiest client process", "sockets", clientSockets, null, ""),
    ];
  } finally {
    client.close();
    await fleet.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
