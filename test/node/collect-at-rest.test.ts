import { setImmediate as nextTurn } from "node:timers/promises";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { collectGarbage, collectOnceAtRest, REST_COLLECTION_MS } from "../../agent/memory/collect-at-rest.ts";
import type { LogLevel } from "../../agent/connection/logger.ts";
import { WORKER_IDLE_MS } from "../../agent/worker/file-runner.ts";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the agent's one collection at rest", () => {
  it("frees what nothing references any more, without giving gc to the agent or to any later context", async () => {
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe("undefined");
    let garbage: object | undefined = { payload: new Array(1_000).fill("start-up garbage") };
    const ref = new WeakRef(garbage);
    garbage = undefined;
    // A WeakRef keeps its target alive until the job that made or read it ends.
    expect(ref.deref()).toBeDefined();
    await nextTurn();
    await collectGarbage();
    expect(ref.deref()).toBeUndefined();
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe("undefined");
    expect(runInNewContext("typeof gc")).toBe("undefined");
  });

  it("runs once, after the start-up check's worker has gone idle, and does not keep the process alive", async () => {
    expect(REST_COLLECTION_MS).toBeGreaterThan(WORKER_IDLE_MS);
    const timers = vi.spyOn(globalThis, "setTimeout");
    const collect = vi.fn(async () => undefined);
    collectOnceAtRest(() => undefined, 20, collect);
    const timer = timers.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    expect(collect).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(collect).toHaveBeenCalledTimes(1));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it("does not run once stopped (the agent exited first)", async () => {
    const collect = vi.fn(async () => undefined);
    const stop = collectOnceAtRest(() => undefined, 20, collect);
    stop();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(collect).not.toHaveBeenCalled();
  });

  it("says so in the log when the collection fails, and the agent carries on", async () => {
    const lines: [LogLevel, string][] = [];
    collectOnceAtRest((level, message) => lines.push([level, message]), 1, async () => {
      throw new Error("no gc here");
    });
    await vi.waitFor(() => expect(lines).toEqual([["warn", "memory collection at rest failed: no gc here"]]));
  });
});
