import type { Logger } from "../connection/logger.ts";
import { errorText } from "../connection/logger.ts";
import { WORKER_IDLE_MS } from "../worker/file-runner.ts";

/**
 * When the agent asks V8 for its one collection: after the start-up check's action worker has gone idle and exited,
 * so what start-up left behind (the schemas' build garbage, the connect and check work) is all garbage by then.
 */
export const REST_COLLECTION_MS = WORKER_IDLE_MS + 15_000;

type Gc = () => void;

/**
 * A full collection, now. At rest V8 never collects on its own (no allocation pressure), so start-up garbage would
 * stay resident for as long as the agent runs. `gc` is exposed to a throw-away context only, and the flag is turned
 * off again so no later context gets it; the agent's own global never has it.
 */
export async function collectGarbage(): Promise<void> {
  const [{ setFlagsFromString }, { runInNewContext }] = await Promise.all([import("node:v8"), import("node:vm")]);
  setFlagsFromString("--expose-gc");
  let gc: Gc;
  try {
    gc = runInNewContext("gc") as Gc;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
  // Without options: a full mark-compact. (Node 20's V8 reads an options object made in the agent's context as a
  // request for a scavenge, which frees nothing that start-up left in the old generation.)
  gc();
}

/** Runs `collect` once, `delayMs` from now, without keeping the process alive; the result stops it if not yet run. */
export function collectOnceAtRest(log: Logger, delayMs = REST_COLLECTION_MS, collect: () => Promise<void> = collectGarbage): () => void {
  const timer = setTimeout(() => void collect().catch((error: unknown) => log("warn", `memory collection at rest failed: ${errorText(error)}`)), delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}
