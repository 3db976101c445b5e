import * as z from "zod";

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

// Kept in a module of its own, without zod, since the dashboard's first page flags outdated agents with it.
export { agentUpdateAvailable, SOURCE_BUILD } from "./agent-version-compare.ts";

/**
 * The line that installs and starts the agent on a machine, as the hub prints it after registering a node: the
 * install script from `hub`, connecting to `site` at `tier`. The token is asked for on the terminal, never on the
 * command line.
 */
export function installCommand(hub: string, site: string, tier: string): string {
  const origin = hub.replace(/\/+$/, "");
  return `curl -fsSL ${origin}${INSTALL_SCRIPT_PATH} | sudo sh -s -- --endpoint ${origin}/api/sites/${site} --tier ${tier}`;
}
