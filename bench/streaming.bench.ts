import { request, type IncomingMessage } from "node:http";
import { sseTextEvents } from "../test/support/hub-api.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { startBaseline } from "./lib/baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { registerSimNodes } from "./lib/sim-fleet.ts";
import { STREAM_COMMAND, type SimNodeOptions } from "./lib/sim-node.ts";
import type { StreamNodeReply } from "./lib/stream-node-child.ts";
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort } from "../test/support/free-port.ts";
import { HubProfiler, selfTimes } from "./lib/cpu-profile.ts";
import { devWorkerds, type DevWorkerds } from "./lib/direct-workerd.ts";
import { cpuMs } from "./lib/proc-stats.ts";
import { elapsedMs } from "./lib/stats.ts";
import { openSocket } from "./lib/ws-client.ts";

/**
 * Streaming throughput of one large output: a simulated node (in a process of its own, as an agent is) sends 32 MiB
 * as 64 KiB stream chunks, the hub relays them to an API client as server-sent events. (A real agent streams at most the first 1 MiB of a directive, so the
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
  /** The same for the simulated node's process and for this one, the SSE client. */
  nodeCpu: number;
  clientCpu: number;
}

/**
 * POSTs for server-sent events with node's own HTTP client, the body decoded as UTF-8 as it arrives: the lightest
 * client Node has, so that what the client costs weighs as little as it can on the shared cores.
 */
function postForStream(url: string, apiKey: string, body: unknown): Promise<IncomingMessage> {
  return openStream(url, "POST", { Authorization: `Bearer ${apiKey}`, "Content-Type": "application/json" }, JSON.stringify(body));
}

function openStream(url: string, method: string, headers: Record<string, string>, body?: string, decode = true): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: { ...headers, Accept: "text/event-stream" } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${url} answered ${res.statusCode}`));
      if (decode) res.setEncoding("utf8");
      resolve(res);
    });
    req.once("error", reject);
    req.end(body);
  });
}

interface ClientOnly {
  mibPerS: number;
  /** This process's CPU milliseconds per MiB: what the client costs with no hub behind it. */
  clientCpu: number;
}

/**
 * The same SSE client reading the same events from a plain Node HTTP server (the baseline server's `/events`), and
 * the same response read as bytes only: how much of the client's cost is HTTP and the sockets, and how much is the
 * parsing every SSE client does.
 */
async function fromPlainServer(baseUrl: string, parse: boolean): Promise<ClientOnly> {
  const selfBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const res = await openStream(`${baseUrl}/events?bytes=${BYTES}`, "GET", {}, undefined, parse);
  let received = 0;
  if (parse) {
    for await (const event of sseTextEvents(res)) if (event.event === "chunk") received += Buffer.byteLength(event.chunk);
  } else {
    for await (const bytes of res as AsyncIterable<Buffer>) received += bytes.length;
  }
  const ms = elapsedMs(start);
  const self = process.cpuUsage(selfBefore);
  const mib = received / 1024 / 1024;
  if (received < BYTES) throw new Error(`only ${received} of ${BYTES} bytes arrived from the plain server`);
  return { mibPerS: mib / (ms / 1000), clientCpu: (self.user + self.system) / 1000 / mib };
}

/** The simulated node in its own process (`lib/stream-node-child.ts`), and a way to ask for its CPU time. */
async function streamNode(options: Omit<SimNodeOptions, "trips">): Promise<{ child: ChildProcess; cpuMs: () => Promise<number> }> {
  const child = fork(join(import.meta.dirname, "lib/stream-node-child.ts"), [JSON.stringify(options)], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = () =>
    new Promise<StreamNodeReply>((resolve, reject) => {
      child.once("message", (reply: StreamNodeReply) => (reply.type === "failed" ? reject(new Error(reply.message)) : resolve(reply)));
      child.once("exit", () => reject(new Error("the simulated node's process exited")));
    });
  await next();
  return {
    child,
    cpuMs: async () => {
      const asked = next();
      child.send("cpu");
      const reply = await asked;
      return reply.type === "cpu" ? reply.ms : Number.NaN;
    },
  };
}

async function throughHub(hub: TestHub, url: string, name: string, workerds: DevWorkerds | null, profiler?: HubProfiler): Promise<Streamed> {
  const [creds] = await registerSimNodes(hub.api, 1, name);
  const endpoint = `${url.replace(/^http/, "ws")}/api/sites/default/connect`;
  const node = await streamNode({ url: endpoint, token: creds!.token, nodeId: creds!.id, heartbeatMs: 10_000, streamBytes: BYTES });
  try {
    await profiler?.start();
    const cpuBefore = workerds ? [cpuMs(workerds.hubPid), cpuMs(workerds.proxyPid)] : null;
    const selfBefore = process.cpuUsage();
    const nodeBefore = await node.cpuMs();
    const start = process.hrtime.bigint();
    const res = await postForStream(`${url}/api/sites/default/nodes/${creds!.id}/directives`, hub.adminKey, { action: "bash", params: { command: STREAM_COMMAND } });
    let received = 0;
    for await (const event of sseTextEvents(res)) {
      if (event.event === "chunk") received += Buffer.byteLength(event.chunk);
      if (event.event === "result") break;
    }
    res.destroy();
    const ms = elapsedMs(start);
    const self = process.cpuUsage(selfBefore);
    const nodeMs = (await node.cpuMs()) - nodeBefore;
    const mib = received / 1024 / 1024;
    const cpu = workerds && cpuBefore ? [(cpuMs(workerds.hubPid) - cpuBefore[0]!) / mib, (cpuMs(workerds.proxyPid) - cpuBefore[1]!) / mib] : [Number.NaN, Number.NaN];
    if (profiler) printProfile(await profiler.stop());
    if (received < BYTES) throw new Error(`only ${received} of ${BYTES} bytes arrived`);
    return { mibPerS: mib / (ms / 1000), hubCpu: cpu[0]!, proxyCpu: cpu[1]!, nodeCpu: nodeMs / mib, clientCpu: (self.user + self.system) / 1000 / mib };
  } finally {
    node.child.disconnect();
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
    const plain = await fromPlainServer(baseline.httpUrl, true);
    const plainBytes = await fromPlainServer(baseline.httpUrl, false);
    const ws = "raw ws, 2 processes";
    return [
      { bench: BENCH, metric: "node → hub → SSE client", unit: "MiB/s", value: viaProxy.mibPerS, baseline: wsRate, baselineLabel: ws },
      { bench: BENCH, metric: "same, without wrangler dev's proxy", unit: "MiB/s", value: direct?.mibPerS ?? Number.NaN, baseline: wsRate, baselineLabel: ws },
      { bench: BENCH, metric: "hub workerd CPU per streamed MiB", unit: "ms", value: viaProxy.hubCpu, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "wrangler dev's proxy CPU per streamed MiB", unit: "ms", value: viaProxy.proxyCpu, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "simulated node's process CPU per streamed MiB", unit: "ms", value: viaProxy.nodeCpu, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "SSE client's process CPU per streamed MiB", unit: "ms", value: viaProxy.clientCpu, baseline: plain.clientCpu, baselineLabel: "same client, plain Node HTTP server" },
      { bench: BENCH, metric: "plain Node HTTP server → the same SSE client (no hub)", unit: "MiB/s", value: plain.mibPerS, baseline: wsRate, baselineLabel: ws },
      { bench: BENCH, metric: "SSE client's CPU per MiB reading bytes only, plain server", unit: "ms", value: plainBytes.clientCpu, baseline: plain.clientCpu, baselineLabel: "same client, parsing events" },
    ];
  } finally {
    profiler?.close();
    await baseline.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
