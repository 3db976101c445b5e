import { AuditQuery } from "../../protocol/accounts.ts";
import { parseQuery } from "../http/validate.ts";
import { directory } from "./account-context.ts";
import type { AccountRoute } from "./site-context.ts";

export const auditRoutes: AccountRoute[] = [
  {
    method: "get",
    path: "/api/audit",
    permission: "audit.read",
    handler: async (c) => {
      const q = parseQuery(c, AuditQuery);
      if (!q.ok) return q.response;
      return c.json(await directory(c).queryAudit(q.value));
    },
  },
];
