import type { Context } from "hono";
import type { Env } from "../env.ts";
import type { Permission, Principal } from "../auth/principal.ts";

export type AppEnv = {
  Bindings: Env;
  /** `keptAccessVersion`: set by the guard of a `confirmsAccess` route; see worker/auth/site-access-cache.ts. */
  Variables: { principal: Principal; site: string; keptAccessVersion: string | null };
};
export type AppContext = Context<AppEnv>;

/** One API route under `/api/sites/:site`, with the permission it needs. The table of these is the API. */
export interface SiteRoute {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  permission: Permission;
  handler: (c: AppContext) => Promise<Response> | Response;
  /** Largest request body the route accepts; MAX_API_BODY_BYTES when absent. */
  maxBodyBytes?: number;
  /**
   * Whether this request's one call to the site object carries `keptAccessVersion`, so that the object refuses it
   * (`ACCESS_CHANGED`) when the site's access changed since: then the guard may authorise the request with an access
   * answer kept from an earlier one (worker/auth/site-access-cache.ts).
   */
  confirmsAccess?: (c: AppContext) => boolean;
}

/** An API route about the hub or the caller's account rather than one site; `path` is the full path. */
export type AccountRoute = SiteRoute;

export function siteHub(c: AppContext) {
  return c.env.SITE_HUB.get(c.env.SITE_HUB.idFromName(c.get("site")));
}

/** How an actor is named in records and the activity log. */
export function actorOf(c: AppContext): string {
  return c.get("principal").label;
}
