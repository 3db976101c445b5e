import { NodeId } from "../../protocol/identifiers.ts";
import { MetricsHistoryQuery } from "../../protocol/metrics-history.ts";
import { respond } from "../http/api-error.ts";
import { parseParam, parseQuery } from "../http/validate.ts";
import { siteHub, type SiteRoute } from "./site-context.ts";

export const metricsRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/nodes/:id/metrics",
    permission: "nodes.read",
    handler: async (c) => {
      const id = parseParam(c, NodeId, "id");
      if (!id.ok) return id.response;
      const q = parseQuery(c, MetricsHistoryQuery);
      if (!q.ok) return q.response;
      return respond(c, await siteHub(c).metricsHistory(id.value, q.value));
    },
  },
];
