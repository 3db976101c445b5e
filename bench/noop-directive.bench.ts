import { writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { DirectiveView } from "../protocol/api.ts";
import { Fleet } from "../test/support/fleet.ts";
import { startBaseline } from "./lib/baseline.ts";
import { startEchoBaseline } from "./lib/echo-baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import { KeepAliveClient } from "./lib/http-client.ts";
import { ownerKeyClient } from "./lib/owner-key.ts";
import { cpuMs, processTree, workerdProcesses } from "./lib/proc-stats.ts";
import type { BenchResult } from "./lib/results.ts";
import { registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips, SimNode } from "./lib/sim-node.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";
import { openSocket, roundTrip } from "./lib/ws-client.ts";

/**
 * The "no-op directive": a `read` of a small file through the API with an API key, on a real agent, next to the
 * floors it stands on, all in one run: a bare `ws` round trip between two Node processes, a `ws` round trip
 * through workerd to a Durable Object that echoes it, and an HTTP request through workerd to a Durable Object.
 *
 * Where the hub's time goes is measured by difference, with the same keep-alive client for every HTTP probe:
 * the HTTP path (`/healthz`: no auth, no object), authentication (`/api/auth/me` with the key), the site object
 * (`GET` of one node: auth, one RPC, one read), storage and dispatch (the `read` to a simulated node that answers at
 * once: every row the directive writes, the WebSocket out and back), and the agent (the same `read` on a real
 * agent). Probes run in alternating blocks, so other work on the machine falls on all of them alike.
 */
const RUNS = Number(process.env.BENCH_NOOP_RUNS ?? 400);
const ROUNDS = 4;
const WARMUP = 20;
const BENCH = "no-op directive";

interface Probe {
  name: string;
  run: () => Promise<unknown>;
  /** Which side's workerd CPU to charge the probe's time to. */
  side: "hub" | "echo" | "none";
}

interface Measured {
  samples: number[];
  cpuMsPerOp: number;
}

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const baseline = await startBaseline();
  const echo = await startEchoBaseline(fleet.dirs);
  const closers: (() => void)[] = [];
  try {
    const agent = await fleet.connectedNode("noop-agent", "root");
    const [sim] = await registerSimNodes(fleet.api, 1, "noop-sim");
    const simNode = await SimNode.connect({ url: fleet.hub.endpoint, token: sim!.token, nodeId: sim!.id, heartbeatMs: 60_000, trips: new RoundTrips() });
    closers.push(() => simNode.close());

    const hub = await ownerKeyClient(fleet);
    const echoHttp = new KeepAliveClient(echo.httpUrl);
    closers.push(() => hub.close(), () => echoHttp.close());

    const file = join(fleet.dirs.makeOpen("cortex-bench-noop-"), "small.txt");
    writeFileSync(file, "hello from the no-op directive\n", { mode: 0o644 });
    const readOn = (node: string) => `/api/sites/default/nodes/${node}/directives`;
    const body = JSON.stringify({ action: "read", params: { path: file } });
    const agentDurations: number[] = [];
    const readVia = async (node: string, check: (view: DirectiveView) => void) => {
      const view = DirectiveView.parse(JSON.parse(await hub.request("POST", readOn(node), body)));
      if (view.status !== "done") throw new Error(`read on ${node} came back ${view.status}: ${view.error}`);
      check(view);
    };

    const bareWs = await openSocket(baseline.wsUrl);
    const echoWs = await openSocket(echo.wsUrl);
    closers.push(() => bareWs.close(), () => echoWs.close());

    const probes: Probe[] = [
      { name: "bare ws round trip", side: "none", run: () => roundTrip(bareWs, "echo:x") },
      { name: "ws → workerd → DO echo", side: "echo", run: () => roundTrip(echoWs, "x") },
      { name: "HTTP → workerd → DO RPC", side: "echo", run: () => echoHttp.request("GET", "/rpc") },
      { name: "HTTP → workerd → DO RPC + 1 row", side: "echo", run: () => echoHttp.request("GET", "/write") },
      { name: "hub GET /healthz", side: "hub", run: () => hub.request("GET", "/healthz") },
      { name: "hub GET /api/auth/me (API key)", side: "hub", run: () => hub.request("GET", "/api/auth/me") },
      { name: "hub GET one node (API key)", side: "hub", run: () => hub.request("GET", `/api/sites/default/nodes/${sim!.id}`) },
      { name: "read via API → simulated node", side: "hub", run: () => readVia(sim!.id, () => undefined) },
      {
        name: "read via API → real agent",
        side: "hub",
        run: () =>
          readVia("noop-agent", (view) => {
            if (!view.output?.includes("hello from the no-op directive")) throw new Error(`the read returned ${view.output}`);
            if (view.startedAt !== null && view.endedAt !== null) agentDurations.push(view.endedAt - view.startedAt);
          }),
      },
    ];

    const hubProcs = workerdProcesses(fleet.hub.process!.pid!);
    const echoProcs = workerdProcesses(echo.pid);
    const cpuOf = (side: Probe["side"]) => {
      const p = side === "hub" ? hubProcs : side === "echo" ? echoProcs : null;
      return p ? cpuMs(p.entry!) + cpuMs(p.user!) : 0;
    };
    // The agent's own CPU (its process and its action worker, which may have been restarted since the last block).
    const agentCpu = () => processTree(agent.proc.pid).reduce((sum, pid) => sum + cpuMs(pid), 0);
    let agentCpuTotal = 0;
    for (const probe of probes) for (let i = 0; i < WARMUP; i++) await probe.run();
    agentDurations.length = 0;

    const measured = new Map<string, Measured>(probes.map((p) => [p.name, { samples: [], cpuMsPerOp: 0 }]));
    const perBlock = Math.ceil(RUNS / ROUNDS);
    const cpuTotals = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const probe of probes) {
        const m = measured.get(probe.name)!;
        const cpu0 = cpuOf(probe.side);
        const agent0 = agentCpu();
        for (let i = 0; i < perBlock; i++) {
          const start = process.hrtime.bigint();
          await probe.run();
          m.samples.push(elapsedMs(start));
        }
        cpuTotals.set(probe.name, (cpuTotals.get(probe.name) ?? 0) + cpuOf(probe.side) - cpu0);
        if (probe.name === "read via API → real agent") agentCpuTotal += agentCpu() - agent0;
      }
    }
    for (const [name, m] of measured) m.cpuMsPerOp = (cpuTotals.get(name) ?? 0) / m.samples.length;

    const load = os.loadavg()[0]!.toFixed(1);
    const p = (name: string, q: number) => percentile(measured.get(name)!.samples, q);
    const n = measured.get("read via API → real agent")!.samples.length;
    const results: BenchResult[] = [];
    const echoLabel = "ws → workerd → DO echo";
    for (const q of [50, 99]) {
      results.push({
        bench: BENCH,
        metric: `read of a small file via API (API key) → agent, p${q} of ${n} (load ${load})`,
        unit: "ms",
        value: p("read via API → real agent", q),
        baseline: p(echoLabel, q),
        baselineLabel: echoLabel,
      });
    }
    for (const name of probes.map((x) => x.name).filter((x) => x !== "read via API → real agent")) {
      results.push({ bench: BENCH, metric: `${name}, p50 / p99 in baseline column`, unit: "ms", value: p(name, 50), baseline: p(name, 99), baselineLabel: "p99" });
    }
    // Stages by difference of p50s; a negative difference (noise) is shown as it is rather than hidden.
    const stage = (label: string, later: string, earlier: string | null) => ({
      bench: BENCH,
      metric: `stage: ${label}, p50`,
      unit: "ms",
      value: p(later, 50) - (earlier ? p(earlier, 50) : 0),
      baseline: null,
      baselineLabel: "",
    });
    results.push(
      stage("HTTP in and out through wrangler dev's proxy and the Worker (/healthz)", "hub GET /healthz", null),
      stage("authentication (/api/auth/me − /healthz)", "hub GET /api/auth/me (API key)", "hub GET /healthz"),
      stage("site object: RPC + one read (GET node − /api/auth/me)", "hub GET one node (API key)", "hub GET /api/auth/me (API key)"),
      stage("directive: validation, storage, WebSocket out and back (sim read − GET node)", "read via API → simulated node", "hub GET one node (API key)"),
      stage("agent: executor, file read, result (real − simulated node)", "read via API → real agent", "read via API → simulated node"),
      { bench: BENCH, metric: "of which between the agent's ack and its result as the hub saw them (ms clock), p50", unit: "ms", value: percentile(agentDurations, 50), baseline: null, baselineLabel: "" },
    );
    for (const name of ["read via API → real agent", "read via API → simulated node", "hub GET one node (API key)", "hub GET /healthz"]) {
      results.push({ bench: BENCH, metric: `workerd CPU per op: ${name}`, unit: "ms", value: measured.get(name)!.cpuMsPerOp, baseline: measured.get("HTTP → workerd → DO RPC")!.cpuMsPerOp, baselineLabel: "HTTP → workerd → DO RPC" });
    }
    results.push({
      bench: BENCH,
      metric: "agent CPU per read (agent and its action worker)",
      unit: "ms",
      value: agentCpuTotal / n,
      baseline: measured.get("read via API → real agent")!.cpuMsPerOp - measured.get("read via API → simulated node")!.cpuMsPerOp,
      baselineLabel: "workerd CPU: real agent − simulated node",
    });
    return results;
  } finally {
    for (const close of closers) close();
    await echo.stop();
    await baseline.stop();
    await fleet.close();
  }
}

await runIfMain(import.meta.url, run);
