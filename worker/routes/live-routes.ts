import { credentialShard } from "../../durable-objects/credentials/shard-name.ts";
import { viewerUrl } from "../../durable-objects/site-hub/live-viewers.ts";
import type { SocketOwner } from "../../durable-objects/shared/user-sockets.ts";
import { apiError } from "../http/api-error.ts";
import { siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/** Who opens the socket, for closing it when their access ends; the admin key belongs to nobody. */
function ownerOf(c: AppContext): SocketOwner | null {
  const principal = c.get("principal");
  if (principal.kind === "anonymous" || principal.kind === "admin_key") return null;
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
      const principal = c.get("principal");
      // The credential's shard notes where its sockets are, so signing out or revoking it closes them at once;
      // removal and demotion are the site's own business (its SiteHub closes the person's sockets).
      if (principal.kind === "session" || principal.kind === "api_key") {
        await credentialShard(c.env, principal.credentialHash).notePresence(principal.credentialHash, { kind: "site", name: c.get("site") });
      }
      return siteHub(c).fetch(new Request(viewerUrl(c.req.url, owner), { headers: { Upgrade: "websocket" } }));
    },
  },
];
