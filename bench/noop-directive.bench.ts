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
import { devWorkerds } from "./lib/direct-workerd.ts";
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
 *
 * Every probe runs twice: through the proxy `wrangler dev` puts in front of the hub (a second workerd relaying every
 * request and socket: what `npm start` gives), and straight to the hub's own workerd (" (no proxy)"), with an agent
 * and a simulated node of its own connected there, next to the echo Worker reached the same way. A deployed hub has
 * no such proxy.
 */
const RUNS = Number(process.env.BENCH_NOOP_RUNS ?? 400);
const ROUNDS = 4;
const WARMUP = 20;
const BENCH = "no-op directive";
/**
 * Durable commits a directive waits for: its record before it is sent, its result before the answer. Counted with
 * `strace -c` on the hub's workerd: two `fsync`s per read, none for a GET (docs/benchmarks.md).
 */
const COMMITS_PER_DIRECTIVE = 2;

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

/** One way in: through `wrangler dev`'s proxy (the user's local path) or straight to the workerd behind it. */
interface Path {
  /** Put after each probe's name; empty for the proxy path, which keeps the names of earlier runs. */
  suffix: string;
  hub: KeepAliveClient;
  echoHttp: KeepAliveClient;
  echoWsUrl: string;
  /** The hub's WebSocket origin for this path, for the agent's and the simulated node's sockets. */
  hubWs: string;
}

const DIRECT = " (no proxy)";
const READ_AGENT = "read via API → real agent";
const READ_SIM = "read via API → simulated node";

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const baseline = await startBaseline();
  const echo = await startEchoBaseline(fleet.dirs);
  const closers: (() => void)[] = [];
  try {
    const hub = await ownerKeyClient(fleet);
    const echoHttp = new KeepAliveClient(echo.httpUrl);
    closers.push(() => hub.close(), () => echoHttp.close());
    const paths: Path[] = [{ suffix: "", hub, echoHttp, echoWsUrl: echo.wsUrl, hubWs: fleet.hub.endpoint.replace(/\/api\/.*$/, "") }];
    // Deployed, nothing stands between the client and the Worker's isolate the way wrangler dev's proxy workerd does.
    const hubDirect = await devWorkerds(fleet.hub.process!.pid!);
    const echoDirect = await devWorkerds(echo.pid);
    if (hubDirect && echoDirect) {
      const direct: Path = {
        suffix: DIRECT,
        hub: hub.at(hubDirect.hubUrl),
        echoHttp: echoHttp.at(echoDirect.hubUrl),
        echoWsUrl: `${echoDirect.hubUrl.replace(/^http/, "ws")}/ws`,
        hubWs: hubDirect.hubUrl.replace(/^http/, "ws"),
      };
      closers.push(() => direct.hub.close(), () => direct.echoHttp.close());
      paths.push(direct);
    }

    const file = join(fleet.dirs.makeOpen("cortex-bench-noop-"), "small.txt");
    writeFileSync(file, "hello from the no-op directive\n", { mode: 0o644 });
    const body = JSON.stringify({ action: "read", params: { path: file } });
    const agentDurations: number[] = [];
    const agentPids: number[] = [];
    const bareWs = await openSocket(baseline.wsUrl);
    closers.push(() => bareWs.close());
    const probes: Probe[] = [{ name: "bare ws round trip", side: "none", run: () => roundTrip(bareWs, "echo:x") }];

    for (const path of paths) {
      const agentName = `noop-agent${path.suffix ? "-direct" : ""}`;
      const agent = await fleet.connectedNode(agentName, "root", { endpoint: `${path.hubWs}/api/sites/default/connect` });
      agentPids.push(agent.proc.pid);
      const [sim] = await registerSimNodes(fleet.api, 1, `noop-sim${path.suffix ? "-direct" : ""}`);
      const simNode = await SimNode.connect({ url: `${path.hubWs}/api/sites/default/connect`, token: sim!.token, nodeId: sim!.id, heartbeatMs: 60_000, trips: new RoundTrips() });
      const echoWs = await openSocket(path.echoWsUrl);
      closers.push(() => simNode.close(), () => echoWs.close());
      const readVia = async (node: string, check: (view: DirectiveView) => void) => {
        const view = DirectiveView.parse(JSON.parse(await path.hub.request("POST", `/api/sites/default/nodes/${node}/directives`, body)));
        if (view.status !== "done") throw new Error(`read on ${node} came back ${view.status}: ${view.error}`);
        check(view);
      };
      const n = (name: string) => `${name}${path.suffix}`;
      probes.push(
        { name: n("ws → workerd → DO echo"), side: "echo", run: () => roundTrip(echoWs, "x") },
        { name: n("HTTP → workerd → DO RPC"), side: "echo", run: () => path.echoHttp.request("GET", "/rpc") },
        { name: n("HTTP → workerd → DO RPC + 1 row"), side: "echo", run: () => path.echoHttp.request("GET", "/write") },
        { name: n("hub GET /healthz"), side: "hub", run: () => path.hub.request("GET", "/healthz") },
        { name: n("hub GET /api/auth/me (API key)"), side: "hub", run: () => path.hub.request("GET", "/api/auth/me") },
        { name: n("hub GET one node (API key)"), side: "hub", run: () => path.hub.request("GET", `/api/sites/default/nodes/${sim!.id}`) },
        { name: n(READ_SIM), side: "hub", run: () => readVia(sim!.id, () => undefined) },
        {
          name: n(READ_AGENT),
          side: "hub",
          run: () =>
            readVia(agentName, (view) => {
              if (!view.output?.includes("hello from the no-op directive")) throw new Error(`the read returned ${view.output}`);
              if (!path.suffix && view.startedAt !== null && view.endedAt !== null) agentDurations.push(view.endedAt - view.startedAt);
            }),
        },
      );
    }

    const hubProcs = workerdProcesses(fleet.hub.process!.pid!);
    const echoProcs = workerdProcesses(echo.pid);
    const cpuOf = (side: Probe["side"]) => {
      const p = side === "hub" ? hubProcs : side === "echo" ? echoProcs : null;
      return p ? cpuMs(p.entry!) + cpuMs(p.user!) : 0;
    };
    // The agents' own CPU (each process and its action worker, which may have been restarted since the last block).
    const agentCpu = (pid: number) => processTree(pid).reduce((sum, child) => sum + cpuMs(child), 0);
    const agentCpuTotals = new Map<string, number>();
    for (const probe of probes) for (let i = 0; i < WARMUP; i++) await probe.run();
    agentDurations.length = 0;

    const measured = new Map<string, Measured>(probes.map((p) => [p.name, { samples: [], cpuMsPerOp: 0 }]));
    const perBlock = Math.ceil(RUNS / ROUNDS);
    const cpuTotals = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const probe of probes) {
        const m = measured.get(probe.name)!;
        const cpu0 = cpuOf(probe.side);
        const agentPid = paths.findIndex((path) => probe.name === `${READ_AGENT}${path.suffix}`);
        const agent0 = agentPid < 0 ? 0 : agentCpu(agentPids[agentPid]!);
        for (let i = 0; i < perBlock; i++) {
          const start = process.hrtime.bigint();
          await probe.run();
          m.samples.push(elapsedMs(start));
        }
        cpuTotals.set(probe.name, (cpuTotals.get(probe.name) ?? 0) + cpuOf(probe.side) - cpu0);
        if (agentPid >= 0) agentCpuTotals.set(probe.name, (agentCpuTotals.get(probe.name) ?? 0) + agentCpu(agentPids[agentPid]!) - agent0);
      }
    }
    for (const [name, m] of measured) m.cpuMsPerOp = (cpuTotals.get(name) ?? 0) / m.samples.length;

    const load = os.loadavg()[0]!.toFixed(1);
    const p = (name: string, q: number) => percentile(measured.get(name)!.samples, q);
    const n = measured.get(READ_AGENT)!.samples.length;
    const results: BenchResult[] = [];
    for (const path of paths) {
      const at = (name: string) => `${name}${path.suffix}`;
      const echoLabel = at("ws → workerd → DO echo");
      for (const q of [50, 99]) {
        results.push({
          bench: BENCH,
          metric: `read of a small file via API (API key) → agent${path.suffix}, p${q} of ${n} (load ${load})`,
          unit: "ms",
          value: p(at(READ_AGENT), q),
          baseline: p(echoLabel, q),
          baselineLabel: echoLabel,
        });
      }
    }
    for (const name of probes.map((x) => x.name).filter((x) => !x.startsWith(READ_AGENT))) {
      results.push({ bench: BENCH, metric: `${name}, p50 / p99 in baseline column`, unit: "ms", value: p(name, 50), baseline: p(name, 99), baselineLabel: "p99" });
    }
    for (const path of paths) {
      const at = (name: string) => `${name}${path.suffix}`;
      // Stages by difference of p50s; a negative difference (noise) is shown as it is rather than hidden.
      const stage = (label: string, later: string, earlier: string | null) => ({
        bench: BENCH,
        metric: `stage${path.suffix}: ${label}, p50`,
        unit: "ms",
        value: p(at(later), 50) - (earlier ? p(at(earlier), 50) : 0),
        baseline: null,
        baselineLabel: "",
      });
      results.push(
        stage(path.suffix ? "HTTP in and out, the Worker alone (/healthz)" : "HTTP in and out through wrangler dev's proxy and the Worker (/healthz)", "hub GET /healthz", null),
        stage("authentication (/api/auth/me − /healthz)", "hub GET /api/auth/me (API key)", "hub GET /healthz"),
        stage("site object: RPC + one read (GET node − /api/auth/me)", "hub GET one node (API key)", "hub GET /api/auth/me (API key)"),
        stage("directive: validation, storage, WebSocket out and back (sim read − GET node)", READ_SIM, "hub GET one node (API key)"),
        stage("agent: executor, file read, result (real − simulated node)", READ_AGENT, READ_SIM),
      );
      const commit = p(at("HTTP → workerd → DO RPC + 1 row"), 50) - p(at("HTTP → workerd → DO RPC"), 50);
      results.push({
        bench: BENCH,
        metric: `stage${path.suffix}: of the directive, storage: ${COMMITS_PER_DIRECTIVE} commits at the echo's one-row write (+1 row − RPC), p50`,
        unit: "ms",
        value: COMMITS_PER_DIRECTIVE * commit,
        baseline: null,
        baselineLabel: "",
      });
    }
    results.push({ bench: BENCH, metric: "between the agent's ack and its result as the hub saw them (ms clock), p50", unit: "ms", value: percentile(agentDurations, 50), baseline: null, baselineLabel: "" });
    for (const path of paths) {
      for (const name of [READ_AGENT, READ_SIM, "hub GET one node (API key)", "hub GET /healthz"].map((x) => `${x}${path.suffix}`)) {
        const floor = `HTTP → workerd → DO RPC${path.suffix}`;
        results.push({ bench: BENCH, metric: `workerd CPU per op: ${name}`, unit: "ms", value: measured.get(name)!.cpuMsPerOp, baseline: measured.get(floor)!.cpuMsPerOp, baselineLabel: floor });
      }
    }
    results.push({
      bench: BENCH,
      metric: "agent CPU per read (agent and its action worker)",
      unit: "ms",
      value: (agentCpuTotals.get(READ_AGENT) ?? 0) / n,
      baseline: measured.get(READ_AGENT)!.cpuMsPerOp - measured.get(READ_SIM)!.cpuMsPerOp,
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
