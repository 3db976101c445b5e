import { ActivityQuery } from "../../protocol/api.ts";
import type { ActivityReader } from "../../durable-objects/site-hub/activity-log.ts";
import { authorize } from "../auth/authorize.ts";
import { parseQuery } from "../http/validate.ts";
import { siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/**
 * Who reads the site's activity: admins read everything, everyone else the machines and directives and the
 * access events about themselves. Asked of `authorize` like every other decision; the site is known to exist here.
 */
export function activityReader(c: AppContext): ActivityReader {
  const principal = c.get("principal");
  const audit = authorize(principal, { id: c.get("site"), exists: true }, { permission: "activity.audit" }).allowed;
  return { audit, userId: "user" in principal ? principal.user.id : null };
}

export const activityRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/activity",
    permission: "activity.read",
    handler: async (c) => {
      const q = parseQuery(c, ActivityQuery);
      if (!q.ok) return q.response;
      return c.json(await siteHub(c).queryActivity(q.value, activityReader(c)));
    },
  },
];
