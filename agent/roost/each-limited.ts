/**
 * Runs `task` over `items`, `limit` at a time (chunk uploads and downloads). After the first failure no new task
 * starts, and that failure is thrown only once the tasks already running have ended: a chunk still arriving is kept
 * for the next attempt, and nothing is left working on what the caller closes next.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      try {
        await task(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failure) throw failure.reason;
}
