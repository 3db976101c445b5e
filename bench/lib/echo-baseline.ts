import { join } from "node:path";
import { startDevHub } from "../../scripts/dev/wrangler-dev.ts";
import { freePort } from "../../test/support/free-port.ts";
import type { TempDirs } from "../../test/support/temp-dirs.ts";
import { REPO_ROOT } from "../../test/support/test-hub.ts";

export interface EchoBaseline {
  /** `wrangler dev`'s own process, to find its workerd processes. */
  pid: number;
  httpUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/**
 * The least the hub's runtime can do, started like the hub (`wrangler dev`, local workerd): the Worker in
 * bench/echo-worker, whose Durable Object echoes WebSocket frames and answers one RPC call, with or without a row.
 */
export async function startEchoBaseline(dirs: TempDirs): Promise<EchoBaseline> {
  const port = await freePort();
  const dev = await startDevHub({
    cwd: join(REPO_ROOT, "bench", "echo-worker"),
    port,
    host: "127.0.0.1",
    persistTo: dirs.make("cortex-bench-echo-"),
    onOutput: () => undefined,
  });
  return { pid: dev.process.pid!, httpUrl: dev.url, wsUrl: `ws://127.0.0.1:${port}/ws`, stop: dev.stop };
}
