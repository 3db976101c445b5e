import type { Context } from "hono";
import { AGENT_RELEASE_PATH, AgentRelease } from "../../protocol/agent-release.ts";
import { apiError } from "../http/api-error.ts";
import type { AppEnv, SiteRoute } from "./site-context.ts";

/** The release the build wrote beside the bundle: what the hub serves now. */
async function currentRelease(c: Context<AppEnv>): Promise<AgentRelease | null> {
  const res = await c.env.ASSETS.fetch(new URL(AGENT_RELEASE_PATH, c.req.url));
  if (!res.ok) return null;
  const parsed = AgentRelease.safeParse(await res.json().catch(() => null));
  return parsed.success ? parsed.data : null;
}

export const agentRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/agent",
    permission: "nodes.read",
    // So clients can tell agents older than the one served.
    handler: async (c) => {
      const release = await currentRelease(c);
      return release ? c.json(release) : apiError(c, 503, "agent_unavailable", "this hub serves no agent: its assets were built without one");
    },
  },
];

/**
 * `/agent/*`, public like the install script: the release and the current bundle, from the static assets. Any other
 * bundle (an earlier deploy's, named by an install script fetched before it) is a 404 that says what to do, where
 * the dashboard's page fallback would answer 200 with a page.
 */
export async function agentFile(c: Context<AppEnv>): Promise<Response> {
  const path = new URL(c.req.url).pathname;
  if (path === AGENT_RELEASE_PATH) return c.env.ASSETS.fetch(c.req.raw);
  const release = await currentRelease(c);
  if (release && path === release.bundle) return c.env.ASSETS.fetch(c.req.raw);
  const current = release ? `this hub serves ${release.bundle} (agent ${release.version})` : "this hub serves no agent";
  return apiError(c, 404, "agent_not_found", `no agent at ${path}: ${current}; fetch install.sh again`);
}
