import { SiteId } from "../../protocol/identifiers.ts";
import { apiError } from "../http/api-error.ts";
import type { AppContext, SiteRoute } from "../routes/site-context.ts";
import type { AccessKeySource } from "./access-jwt.ts";
import { authenticate } from "./authenticate.ts";
import { authorize } from "./authorize.ts";
import { checkOrigin } from "./origin-check.ts";
import { clearSessionCookie } from "./session-cookie.ts";

export interface GuardOptions {
  accessKeys: AccessKeySource;
}

/**
 * Wraps a route's handler in the checks every API request goes through, in order: the site id is well formed,
 * the caller is who they claim (401), a cookie-authenticated state change comes from the hub's own origin (403),
 * and `authorize` allows the route's permission on the site (403, or 404 for an unknown site). The handler runs
 * only then, with the principal and the site set on the context.
 *
 * A `confirmsAccess` request is first tried with the site's access answer this isolate kept, if it has one
 * (site-access-cache.ts). It can only succeed if the site object confirms the answer's version in the route's call;
 * any refusal on the way (by `authorize`, the route, or the object for a changed version, `ACCESS_CHANGED`) starts the checks over
 * with a fresh answer, so what the caller gets is always what a fresh answer gives. A refusal changes nothing, so
 * trying again is harmless.
 */
export function guardRoute(route: SiteRoute, scope: "site" | "hub", options: GuardOptions): (c: AppContext) => Promise<Response> {
  return async (c) => {
    let site: string | null = null;
    if (scope === "site") {
      const parsed = SiteId.safeParse(c.req.param("site"));
      if (!parsed.success) return apiError(c, 400, "invalid_site", `site: ${parsed.error.issues[0]?.message}`);
      site = parsed.data;
    }
    if (site !== null && route.confirmsAccess?.(c)) {
      const tried = await guarded(c, route, site, options, true);
      if (tried !== STALE) return tried;
    }
    return (await guarded(c, route, site, options, false)) as Response;
  };
}

const STALE = Symbol("stale access");

async function guarded(c: AppContext, route: SiteRoute, site: string | null, options: GuardOptions, keepAccess: boolean): Promise<Response | typeof STALE> {
  const auth = await authenticate(c, site, { lenient: route.permission === "public", accessKeys: options.accessKeys, keepAccess });
  if (!auth.ok) {
    if (auth.clearCookie) clearSessionCookie(c);
    return apiError(c, 401, auth.code, auth.message);
  }
  const kept = auth.keptAccessVersion !== null;
  const origin = checkOrigin(c.req.raw, auth.ambient);
  if (!origin.ok) return apiError(c, 403, origin.code, origin.message);
  const decision = authorize(auth.principal, auth.site, { permission: route.permission });
  if (!decision.allowed) return kept ? STALE : apiError(c, decision.status, decision.code, decision.message);
  c.set("principal", auth.principal);
  c.set("keptAccessVersion", auth.keptAccessVersion);
  if (site) c.set("site", site);
  const res = await route.handler(c);
  return kept && res.status >= 400 && res.status < 500 ? STALE : res;
}
