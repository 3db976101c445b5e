/** Comparing agent versions (`<package version>+<build id>`), for the hub, the agent and the dashboard. */

const VERSION_RE = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+([0-9A-Za-z.-]+))?$/;

/** Agents run from a checkout report this build id; they are updated with the checkout, not from the hub. */
export const SOURCE_BUILD = "source";

/**
 * Whether a node running agent `running` should be updated to the `served` one: its package version is older, or the
 * same with another build. Unknown versions and agents run from a checkout are never flagged, nor newer ones.
 */
export function agentUpdateAvailable(running: string | null, served: string): boolean {
  const have = VERSION_RE.exec(running ?? "");
  const want = VERSION_RE.exec(served);
  if (!have || !want || have[4] === SOURCE_BUILD) return false;
  for (const part of [1, 2, 3]) {
    const diff = Number(have[part]) - Number(want[part]);
    if (diff !== 0) return diff < 0;
  }
  return running !== served;
}
