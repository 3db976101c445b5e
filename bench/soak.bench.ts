import type WebSocket from "ws";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { startEchoBaseline, type EchoBaseline } from "./lib/echo-baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import { CpuMeter, rssMb, workerdProcesses } from "./lib/proc-stats.ts";
import type { BenchResult } from "./lib/results.ts";
import { closeAll, connectSimNodes, registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips } from "./lib/sim-node.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";
import { openSocket, roundTrip } from "./lib/ws-client.ts";

/**
 * The soak: 200 simulated nodes sending a full heartbeat with metrics every 5 s while one directive a second goes
 * through the API, for 10 minutes (`BENCH_SOAK_MINUTES` or the first argument shortens it while iterating). Each
 * minute's directive p50/p99 is printed next to the first minute's, so drift shows as a ratio above 1; then most
 * nodes leave, and after a pause the directives are measured once more, with the hub's RSS along the way.
 *
 * Beside them, at the same pace and half a second apart, a round trip through the least the same runtime does (a
 * WebSocket frame echoed by a Durable Object under its own `wrangler dev`): on this virtual machine a process woken
 * after a second of idleness answers a millisecond or more later than a busy one, and a directive crosses several
 * processes, so how warm the machine is shows in each minute's directive latency. The echo says by how much.
 */
const MINUTES = Number(process.argv[2] ?? process.env.BENCH_SOAK_MINUTES ?? 10);
const NODES = Number(process.env.BENCH_SOAK_NODES ?? 200);
const HEARTBEAT_MS = 5_000;
const DIRECTIVE_EVERY_MS = 1_000;
const MINUTE_MS = 60_000;
/** After the load: the nodes kept connected, the quiet before measuring again, and how many directives then. */
const KEPT_AFTER = 10;
const QUIET_MS = 30_000;
const AFTER_DIRECTIVES = 30;
const BENCH = `soak ${NODES} nodes, ${MINUTES} min`;

type Minute = { latencies: number[]; failures: number; rssMb: number; cpuPercent: number; echo: number[] };

/** One directive a second, started on the clock rather than after the previous one, as users would send them. */
async function paced(hub: TestHub, nodeIds: readonly string[], count: number, record: (index: number, ms: number, ok: boolean) => void): Promise<void> {
  const inFlight: Promise<void>[] = [];
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const due = start + i * DIRECTIVE_EVERY_MS;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
    const began = process.hrtime.bigint();
    inFlight.push(
      hub.api.runDirective(nodeIds[i % nodeIds.length]!, { action: "bash", params: { command: `echo ${i}` } }).then(
        (view) => record(i, elapsedMs(began), view.status === "done"),
        () => record(i, elapsedMs(began), false),
      ),
    );
  }
  await Promise.all(inFlight);
}

/** `count` echo round trips on the directives' clock, half a second after each directive is due. */
async function pacedEcho(ws: WebSocket, count: number, record: (index: number, ms: number) => void): Promise<void> {
  const start = Date.now() + DIRECTIVE_EVERY_MS / 2;
  for (let i = 0; i < count; i++) {
    await new Promise((r) => setTimeout(r, Math.max(0, start + i * DIRECTIVE_EVERY_MS - Date.now())));
    record(i, await roundTrip(ws, "x"));
  }
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  const hub = await TestHub.start(dirs);
  let echo: EchoBaseline | null = null;
  try {
    echo = await startEchoBaseline(dirs);
    const echoWs = await openSocket(echo.wsUrl);
    const workerd = workerdProcesses(hub.process!.pid!);
    const hubPids = [workerd.entry, workerd.user].filter((pid): pid is number => pid !== null);
    const hubRss = () => hubPids.reduce((sum, pid) => sum + rssMb(pid), 0);

    const creds = await registerSimNodes(hub.api, NODES, "soak");
    const nodes = await connectSimNodes(creds, { url: hub.endpoint, heartbeatMs: HEARTBEAT_MS, trips: new RoundTrips(), metricsEveryTicks: 1 });
    const ids = creds.map((c) => c.id);
    // One heartbeat round before the clock starts, so the first minute is not the nodes' first contact.
    await new Promise((r) => setTimeout(r, HEARTBEAT_MS));
    const rssAtStart = hubRss();

    const minutes: Minute[] = Array.from({ length: MINUTES }, () => ({ latencies: [], failures: 0, rssMb: 0, cpuPercent: 0, echo: [] as number[] }));
    const perMinute = MINUTE_MS / DIRECTIVE_EVERY_MS;
    // The hub's CPU each minute does the same work (the same heartbeats and directives), so unlike latency it hardly
    // depends on what else the machine runs: work that grows with the hub's history shows here first.
    let meter = new CpuMeter(hubPids);
    const sampler = setInterval(() => {
      const done = minutes.findIndex((m) => m.rssMb === 0);
      if (done < 0) return;
      minutes[done]!.rssMb = hubRss();
      minutes[done]!.cpuPercent = meter.read().corePercent;
      meter = new CpuMeter(hubPids);
    }, MINUTE_MS);
    await Promise.all([
      paced(hub, ids, MINUTES * perMinute, (i, ms, ok) => {
        const minute = minutes[Math.floor(i / perMinute)]!;
        if (ok) minute.latencies.push(ms);
        else minute.failures += 1;
        if (minute.latencies.length + minute.failures === perMinute) {
          const n = Math.floor(i / perMinute) + 1;
          process.stderr.write(`soak: minute ${n}: p50 ${percentile(minute.latencies, 50).toFixed(1)} ms, p99 ${percentile(minute.latencies, 99).toFixed(1)} ms, failed ${minute.failures}, hub RSS ${hubRss().toFixed(0)} MiB\n`);
        }
      }),
      pacedEcho(echoWs, MINUTES * perMinute, (i, ms) => minutes[Math.floor(i / perMinute)]!.echo.push(ms)),
    ]);
    clearInterval(sampler);
    for (const m of minutes) {
      if (m.rssMb !== 0) continue;
      m.rssMb = hubRss();
      m.cpuPercent = meter.read().corePercent;
    }

    // The load stops: all but a few nodes leave, no directive for a while, then the same pace again.
    closeAll(nodes.slice(KEPT_AFTER));
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const after: Minute = { latencies: [], failures: 0, rssMb: 0, cpuPercent: 0, echo: [] };
    await Promise.all([
      paced(hub, ids.slice(0, KEPT_AFTER), AFTER_DIRECTIVES, (_i, ms, ok) => (ok ? after.latencies.push(ms) : (after.failures += 1))),
      pacedEcho(echoWs, AFTER_DIRECTIVES, (_i, ms) => after.echo.push(ms)),
    ]);
    echoWs.close();
    after.rssMb = hubRss();
    closeAll(nodes.slice(0, KEPT_AFTER));

    const first = minutes[0]!;
    const row = (metric: string, unit: string, value: number, baseline: number | null, baselineLabel: string): BenchResult => ({ bench: BENCH, metric, unit, value, baseline, baselineLabel });
    const rows: BenchResult[] = [];
    minutes.forEach((m, i) => {
      const label = i === 0 ? "" : "minute 1";
      rows.push(row(`minute ${i + 1}: directive p50`, "ms", percentile(m.latencies, 50), i === 0 ? null : percentile(first.latencies, 50), label));
      rows.push(row(`minute ${i + 1}: directive p99`, "ms", percentile(m.latencies, 99), i === 0 ? null : percentile(first.latencies, 99), label));
      rows.push(row(`minute ${i + 1}: hub CPU`, "% core", m.cpuPercent, i === 0 ? null : first.cpuPercent, label));
      rows.push(row(`minute ${i + 1}: ws → workerd → DO echo at the same pace, p50`, "ms", percentile(m.echo, 50), i === 0 ? null : percentile(first.echo, 50), label));
    });
    const failures = minutes.reduce((sum, m) => sum + m.failures, 0);
    return [
      ...rows,
      row(`after the load (${KEPT_AFTER} nodes, ${QUIET_MS / 1000} s quiet): directive p50`, "ms", percentile(after.latencies, 50), percentile(first.latencies, 50), "minute 1"),
      row("after the load: directive p99", "ms", percentile(after.latencies, 99), percentile(first.latencies, 99), "minute 1"),
      row("after the load: ws → workerd → DO echo at the same pace, p50", "ms", percentile(after.echo, 50), percentile(first.echo, 50), "minute 1"),
      row("directives that did not end done", "directives", failures + after.failures, null, ""),
      row(`hub RSS at minute ${MINUTES}`, "MiB", minutes[MINUTES - 1]!.rssMb, rssAtStart, "before the first directive"),
      row("hub RSS after the load", "MiB", after.rssMb, rssAtStart, "before the first directive"),
    ];
  } finally {
    await echo?.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
