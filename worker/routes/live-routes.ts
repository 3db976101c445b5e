import { viewerUrl } from "../../durable-objects/site-hub/live-viewers.ts";
import { openingOwner } from "../auth/socket-presence.ts";
import { activityReaderOf } from "../auth/requester.ts";
import { userOf } from "../auth/principal.ts";
import { apiError } from "../http/api-error.ts";
import { siteHub, type SiteRoute } from "./site-context.ts";

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
      const owner = await openingOwner(c, { kind: "site", name: c.get("site") });
      // What the socket may read of the activity log is decided here, like every other right, and travels with it.
      const { audit, confined } = activityReaderOf(c);
      return siteHub(c).fetch(new Request(viewerUrl(c.req.url, owner, { audit, confined }), { headers: { Upgrade: "websocket" } }));
    },
  },
];
