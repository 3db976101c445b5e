import type { DeploymentCounts, TargetView } from "./roost-api.ts";

/** A deployment's counts from its machines' rows, as whoever follows its events keeps them up to date. */
export function countTargets(targets: Iterable<TargetView>): DeploymentCounts {
  const counts: DeploymentCounts = { total: 0, pending: 0, waiting: 0, running: 0, done: 0, failed: 0, skipped: 0, canary: 0, canaryDone: 0, canaryFailed: 0 };
  for (const t of targets) {
    counts.total += 1;
    counts[t.status] += 1;
    if (t.wave !== "canary") continue;
    counts.canary += 1;
    if (t.status === "done") counts.canaryDone += 1;
    if (t.status === "failed") counts.canaryFailed += 1;
  }
  return counts;
}
