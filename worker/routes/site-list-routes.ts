import { CreateSiteRequest } from "../../protocol/accounts.ts";
import { respond } from "../http/api-error.ts";
import { parseBody } from "../http/validate.ts";
import { directory, signedInUser, who } from "./account-context.ts";
import type { AccountRoute } from "./site-context.ts";

export const siteListRoutes: AccountRoute[] = [
  {
    method: "get",
    path: "/api/sites",
    permission: "account.read",
    handler: async (c) => {
      if (c.get("principal").kind === "admin_key") return c.json({ sites: await directory(c).listSites({ userId: null, superadmin: true }) });
      const { user } = signedInUser(c);
      return c.json({ sites: await directory(c).listSites({ userId: user.id, superadmin: user.superadmin }) });
    },
  },
  {
    method: "post",
    path: "/api/sites",
    permission: "sites.create",
    handler: async (c) => {
      const body = await parseBody(c, CreateSiteRequest);
      if (!body.ok) return body.response;
      return respond(c, await directory(c).createSite(body.value.id, body.value.name, who(c)), 201);
    },
  },
];
