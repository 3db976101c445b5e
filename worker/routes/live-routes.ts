import { viewerUrl } from "../../durable-objects/site-hub/live-viewers.ts";
import type { SocketOwner } from "../../durable-objects/shared/user-sockets.ts";
import { activityReaderOf } from "../auth/requester.ts";
import { userOf } from "../auth/principal.ts";
import { apiError } from "../http/api-error.ts";
import { directory } from "./account-context.ts";
import { siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/** Who opens the socket, for closing it when their access ends; the admin key belongs to nobody. */
function ownerOf(c: AppContext): SocketOwner | null {
  const principal = userOf(c.get("principal"));
  if (!principal) return null;
  return { userId: principal.user.id, sessionId: principal.sessionId, apiKeyId: principal.apiKey?.id ?? null };
}

/**
 * The dashboard's live socket. Browsers send cookies with a WebSocket upgrade from any page, so besides the
 * session's SameSite=Strict an upgrade from another origin is refused (cross-site WebSocket hijacking).
 */
export const liveRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/live",
    permission: "nodes.read",
    handler: async (c) => {
      if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
        return apiError(c, 426, "upgrade_required", "expected a WebSocket upgrade");
      }
      const origin = c.req.header("Origin");
      if (origin && origin !== new URL(c.req.url).origin) {
        return apiError(c, 403, "cross_origin", `WebSocket upgrades from ${origin} are not accepted`);
      }
      const owner = ownerOf(c);
      const site = c.get("site");
      if (owner) await directory(c).notePresence(owner.userId, { kind: "site", name: site }, site);
      // What the socket may read of the activity log is decided here, like every other right, and travels with it.
      const { audit, confined } = activityReaderOf(c);
      return siteHub(c).fetch(new Request(viewerUrl(c.req.url, owner, { audit, confined }), { headers: { Upgrade: "websocket" } }));
    },
  },
];
