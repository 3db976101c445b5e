import { sseEvents } from "../test/support/hub-api.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { startBaseline } from "./lib/baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips, SimNode, STREAM_COMMAND } from "./lib/sim-node.ts";
import { freePort } from "../test/support/free-port.ts";
import { HubProfiler, selfTimes } from "./lib/cpu-profile.ts";
import { devWorkerds, type DevWorkerds } from "./lib/direct-workerd.ts";
import { cpuMs } from "./lib/proc-stats.ts";
import { elapsedMs } from "./lib/stats.ts";
import { openSocket } from "./lib/ws-client.ts";

/**
 * Streaming throughput of one large output: a simulated node sends 32 MiB as 64 KiB stream chunks, the hub relays
 * them to an API client as server-sent events. (A real agent streams at most the first 1 MiB of a directive, so the
 * simulated node is what can push this much.) Next to raw `ws` throughput of the same frames between two processes.
 * The path a user has goes through the proxy `wrangler dev` puts in front of the hub's workerd (a second workerd that
 * relays every byte); the same stream straight to the hub's workerd, after it, shows what that proxy costs. The CPU
 * time of each workerd per streamed MiB is steadier than throughput on a shared machine.
 * BENCH_PROFILE=1 also prints where the hub's isolate spent its time during the first stream (a V8 CPU profile taken
 * through wrangler's DevTools inspector), to find what to make faster next.
 */
const BYTES = Number(process.env.BENCH_STREAM_MB ?? 32) * 1024 * 1024;
const BENCH = `streaming ${BYTES / 1024 / 1024} MiB`;
const PROFILE = process.env.BENCH_PROFILE === "1";

interface Streamed {
  mibPerS: number;
  /** CPU milliseconds per streamed MiB of the hub's workerd and of wrangler's proxy, when they were found. */
  hubCpu: number;
  proxyCpu: number;
  /** The same for this process, which plays both the node and the SSE client. */
  selfCpu: number;
}

async function throughHub(hub: TestHub, url: string, name: string, workerds: DevWorkerds | null, profiler?: HubProfiler): Promise<Streamed> {
  const [creds] = await registerSimNodes(hub.api, 1, name);
  const endpoint = `${url.replace(/^http/, "ws")}/api/sites/default/connect`;
  const node = await SimNode.connect({ url: endpoint, token: creds!.token, nodeId: creds!.id, heartbeatMs: 10_000, trips: new RoundTrips(), streamBytes: BYTES });
  try {
    await profiler?.start();
    const cpuBefore = workerds ? [cpuMs(workerds.hubPid), cpuMs(workerds.proxyPid)] : null;
    const selfBefore = process.cpuUsage();
    const start = process.hrtime.bigint();
    const res = await fetch(`${url}/api/sites/default/nodes/${creds!.id}/directives`, {
      method: "POST",
      headers: { Authorization: `Bearer ${hub.adminKey}`, "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ action: "bash", params: { command: STREAM_COMMAND } }),
    });
    let received = 0;
    for await (const event of sseEvents(res.body!)) {
      if (event.event === "chunk") received += Buffer.byteLength(event.chunk);
      if (event.event === "result") break;
    }
    const ms = elapsedMs(start);
    const self = process.cpuUsage(selfBefore);
    const mib = received / 1024 / 1024;
    const cpu = workerds && cpuBefore ? [(cpuMs(workerds.hubPid) - cpuBefore[0]!) / mib, (cpuMs(workerds.proxyPid) - cpuBefore[1]!) / mib] : [Number.NaN, Number.NaN];
    if (profiler) printProfile(await profiler.stop());
    if (received < BYTES) throw new Error(`only ${received} of ${BYTES} bytes arrived`);
    return { mibPerS: mib / (ms / 1000), hubCpu: cpu[0]!, proxyCpu: cpu[1]!, selfCpu: (self.user + self.system) / 1000 / mib };
  } finally {
    node.close();
  }
}

function printProfile(profile: Awaited<ReturnType<HubProfiler["stop"]>>): void {
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  console.log(`hub isolate during the stream: ${total.toFixed(0)} ms sampled; self time by function:`);
  for (const t of selfTimes(profile, 25)) console.log(`${t.ms.toFixed(1).padStart(9)} ms  ${t.where}`);
}

async function rawWs(url: string): Promise<number> {
  const ws = await openSocket(url);
  const start = process.hrtime.bigint();
  let received = 0;
  await new Promise<void>((resolve) => {
    ws.on("message", (data: Buffer) => {
      if (data.length === 3 && data.toString() === "end") return resolve();
      received += data.length;
    });
    ws.send(`stream:${BYTES}`);
  });
  const ms = elapsedMs(start);
  ws.close();
  return received / 1024 / 1024 / (ms / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  const inspectorPort = PROFILE ? await freePort() : undefined;
  const hub = await TestHub.start(dirs, {}, inspectorPort);
  const baseline = await startBaseline();
  const profiler = inspectorPort ? await HubProfiler.connect(inspectorPort) : undefined;
  try {
    const workerds = await devWorkerds(hub.process!.pid!);
    const viaProxy = await throughHub(hub, hub.url, "streamer", workerds, profiler);
    const wsRate = await rawWs(baseline.wsUrl);
    const direct = workerds ? await throughHub(hub, workerds.hubUrl, "streamer-direct", workerds) : null;
    const ws = "raw ws, 2 processes";
    return [
      { bench: BENCH, metric: "node → hub → SSE client", unit: "MiB/s", value: viaProxy.mibPerS, baseline: wsRate, baselineLabel: ws },
      { bench: BENCH, metric: "same, without wrangler dev's proxy", unit: "MiB/s", value: direct?.mibPerS ?? Number.NaN, baseline: wsRate, baselineLabel: ws },
      { bench: BENCH, metric: "hub workerd CPU per streamed MiB", unit: "ms", value: viaProxy.hubCpu, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "wrangler dev's proxy CPU per streamed MiB", unit: "ms", value: viaProxy.proxyCpu, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "bench process (node and SSE client) CPU per MiB", unit: "ms", value: viaProxy.selfCpu, baseline: null, baselineLabel: "" },
    ];
  } finally {
    profiler?.close();
    await baseline.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
