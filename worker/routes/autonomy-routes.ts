import { AlertmanagerPayload, AutonomyEventId, AutonomyEventListQuery, type AlertTokenView } from "../../protocol/autonomy.ts";
import { requesterOf } from "../auth/requester.ts";
import { respond } from "../http/api-error.ts";
import { parseBody, parseParam, parseQuery } from "../http/validate.ts";
import { actorOf, siteHub, type SiteRoute } from "./site-context.ts";

/**
 * Autonomous investigations: the site's events and how each ended (every reader of the site), the Alertmanager token
 * (site admins make, rotate and remove it; it is shown once), and the Alertmanager webhook itself, which only that
 * token may call. No route starts an investigation directly: only process events and alerts do, through the guards.
 */
export const autonomyRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/autonomy/events",
    permission: "activity.read",
    handler: async (c) => {
      const q = parseQuery(c, AutonomyEventListQuery);
      if (!q.ok) return q.response;
      return c.json(await siteHub(c).autonomyEvents(q.value, requesterOf(c)));
    },
  },
  {
    method: "get",
    path: "/autonomy/events/:id",
    permission: "activity.read",
    handler: async (c) => {
      const id = parseParam(c, AutonomyEventId, "id");
      if (!id.ok) return id.response;
      return respond(c, await siteHub(c).autonomyEvent(id.value, requesterOf(c)));
    },
  },
  {
    method: "get",
    path: "/alerts/alertmanager/token",
    permission: "site.manage",
    handler: async (c) => c.json((await siteHub(c).alertToken()) satisfies AlertTokenView),
  },
  {
    method: "post",
    path: "/alerts/alertmanager/token",
    permission: "site.manage",
    handler: async (c) => c.json(await siteHub(c).rotateAlertToken(actorOf(c)), 201),
  },
  {
    method: "delete",
    path: "/alerts/alertmanager/token",
    permission: "site.manage",
    handler: async (c) => respond(c, await siteHub(c).removeAlertToken(actorOf(c))),
  },
  {
    method: "post",
    path: "/alerts/alertmanager",
    permission: "alerts.post",
    handler: async (c) => {
      const body = await parseBody(c, AlertmanagerPayload);
      if (!body.ok) return body.response;
      return respond(c, await siteHub(c).alertmanager(body.value));
    },
  },
];
