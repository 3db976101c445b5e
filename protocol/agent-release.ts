import { z } from "zod";

/** Where the hub serves the agent: public files (they hold no secret), written by the build (scripts/build-agent.ts). */
export const INSTALL_SCRIPT_PATH = "/install.sh";
export const AGENT_RELEASE_PATH = "/agent/release.json";

/** The agent the hub serves now: `/agent/release.json`, and `GET /api/sites/:site/agent` for signed-in callers. */
export const AgentRelease = z.object({
  /** `<package version>+<build id>`, the build id being the start of the SHA-256 of the bundle's code. */
  version: z.string().min(1).max(64),
  /** Path of the one-file bundle on the hub. */
  bundle: z.string().startsWith("/agent/"),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  /** Lowest Node.js major version the bundle runs on. */
  nodeMajor: z.number().int().positive(),
});
export type AgentRelease = z.infer<typeof AgentRelease>;

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

/**
 * The line that installs and starts the agent on a machine, as the hub prints it after registering a node: the
 * install script from `hub`, connecting to `site` at `tier`. The token is asked for on the terminal, never on the
 * command line.
 */
export function installCommand(hub: string, site: string, tier: string): string {
  const origin = hub.replace(/\/+$/, "");
  return `curl -fsSL ${origin}${INSTALL_SCRIPT_PATH} | sudo sh -s -- --endpoint ${origin}/api/sites/${site} --tier ${tier}`;
}
