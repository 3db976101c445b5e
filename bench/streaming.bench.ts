import { sseEvents } from "../test/support/hub-api.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { TestHub } from "../test/support/test-hub.ts";
import { startBaseline } from "./lib/baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips, SimNode, STREAM_COMMAND } from "./lib/sim-node.ts";
import { elapsedMs } from "./lib/stats.ts";
import { openSocket } from "./lib/ws-client.ts";

/**
 * Streaming throughput of one large output: a simulated node sends 32 MiB as 64 KiB stream chunks, the hub relays
 * them to an API client as server-sent events. (A real agent streams at most the first 1 MiB of a directive, so the
 * simulated node is what can push this much.) Next to raw `ws` throughput of the same frames between two processes.
 */
const BYTES = Number(process.env.BENCH_STREAM_MB ?? 32) * 1024 * 1024;
const BENCH = `streaming ${BYTES / 1024 / 1024} MiB`;

async function throughHub(hub: TestHub): Promise<number> {
  const [creds] = await registerSimNodes(hub.api, 1, "streamer");
  const node = await SimNode.connect({ url: hub.endpoint, token: creds!.token, nodeId: creds!.id, heartbeatMs: 10_000, trips: new RoundTrips(), streamBytes: BYTES });
  try {
    const start = process.hrtime.bigint();
    const res = await fetch(`${hub.url}/api/sites/default/nodes/${creds!.id}/directives`, {
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
    if (received < BYTES) throw new Error(`only ${received} of ${BYTES} bytes arrived`);
    return received / 1024 / 1024 / (ms / 1000);
  } finally {
    node.close();
  }
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
  const hub = await TestHub.start(dirs);
  const baseline = await startBaseline();
  try {
    const hubRate = await throughHub(hub);
    const wsRate = await rawWs(baseline.wsUrl);
    return [{ bench: BENCH, metric: "node → hub → SSE client", unit: "MiB/s", value: hubRate, baseline: wsRate, baselineLabel: "raw ws, 2 processes" }];
  } finally {
    await baseline.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
