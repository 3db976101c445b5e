import { ActivityQuery } from "../../protocol/api.ts";
import { activityReaderOf } from "../auth/requester.ts";
import { parseQuery } from "../http/validate.ts";
import { siteHub, type SiteRoute } from "./site-context.ts";

export const activityRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/activity",
    permission: "activity.read",
    handler: async (c) => {
      const q = parseQuery(c, ActivityQuery);
      if (!q.ok) return q.response;
      return c.json(await siteHub(c).queryActivity(q.value, activityReaderOf(c)));
    },
  },
];
