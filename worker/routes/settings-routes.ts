import { ADMIN_ONLY_SETTINGS, redactedWebhookUrl } from "../../protocol/autonomy.ts";
import { SiteSettingsPatch, type SiteSettings, type SiteSettingsResponse } from "../../protocol/site-settings.ts";
import { authorize } from "../auth/authorize.ts";
import { failure } from "../http/api-error.ts";
import { parseBody } from "../http/validate.ts";
import { actorOf, siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/**
 * What the caller may see of the settings: everything for those who may change them; for the other readers the
 * settings that may carry a token (the escalation webhook URL) only show where they point.
 */
function settingsFor(c: AppContext, settings: SiteSettings): SiteSettingsResponse {
  const admin = authorize(c.get("principal"), { id: c.get("site"), exists: true }, { permission: "site.manage" }).allowed;
  if (admin) return { settings, redacted: [] };
  const url = settings.escalationWebhookUrl;
  return { settings: { ...settings, escalationWebhookUrl: url === null ? null : redactedWebhookUrl(url) }, redacted: [...ADMIN_ONLY_SETTINGS] };
}

/** The site's settings: every member reads them (the webhook URL in part), its admins change them. */
export const settingsRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/settings",
    permission: "settings.read",
    handler: async (c) => c.json(settingsFor(c, await siteHub(c).getSettings())),
  },
  {
    method: "patch",
    path: "/settings",
    permission: "site.manage",
    handler: async (c) => {
      const body = await parseBody(c, SiteSettingsPatch);
      if (!body.ok) return body.response;
      const updated = await siteHub(c).updateSettings(body.value, actorOf(c), new URL(c.req.url).origin);
      if (!updated.ok) return failure(c, updated.error);
      return c.json(settingsFor(c, updated.value));
    },
  },
];
