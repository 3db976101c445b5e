import { SiteSettingsPatch, type SiteSettingsResponse } from "../../protocol/site-settings.ts";
import { parseBody } from "../http/validate.ts";
import { actorOf, siteHub, type SiteRoute } from "./site-context.ts";

/** The site's settings: every member reads them (none is secret), its admins change them. */
export const settingsRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/settings",
    permission: "settings.read",
    handler: async (c) => c.json({ settings: await siteHub(c).getSettings() } satisfies SiteSettingsResponse),
  },
  {
    method: "patch",
    path: "/settings",
    permission: "site.manage",
    handler: async (c) => {
      const body = await parseBody(c, SiteSettingsPatch);
      if (!body.ok) return body.response;
      return c.json({ settings: await siteHub(c).updateSettings(body.value, actorOf(c)) } satisfies SiteSettingsResponse);
    },
  },
];
