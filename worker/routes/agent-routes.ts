import { AGENT_RELEASE_PATH, AgentRelease } from "../../protocol/agent-release.ts";
import { apiError } from "../http/api-error.ts";
import type { SiteRoute } from "./site-context.ts";

export const agentRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/agent",
    permission: "nodes.read",
    // The release the build wrote beside the bundle: what the hub serves now, so clients can tell outdated agents.
    handler: async (c) => {
      const res = await c.env.ASSETS.fetch(new URL(AGENT_RELEASE_PATH, c.req.url));
      const release = res.ok ? AgentRelease.safeParse(await res.json().catch(() => null)) : null;
      if (!release?.success) return apiError(c, 503, "agent_unavailable", "this hub serves no agent: its assets were built without one");
      return c.json(release.data);
    },
  },
];
