import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { SiteId } from "../protocol/identifiers.ts";
import { MAX_API_BODY_BYTES } from "../protocol/limits.ts";
import { authenticate } from "./auth/authenticate.ts";
import { authorize } from "./auth/authorize.ts";
import { apiError } from "./http/api-error.ts";
import { activityRoutes } from "./routes/activity-routes.ts";
import { directiveRoutes } from "./routes/directive-routes.ts";
import { nodeRoutes } from "./routes/node-routes.ts";
import type { AppEnv, SiteRoute } from "./routes/site-context.ts";

/** Every authenticated route under `/api/sites/:site`, each with the permission it needs. */
export const SITE_ROUTES: readonly SiteRoute[] = [...nodeRoutes, ...directiveRoutes, ...activityRoutes];

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.onError((err, c) => {
    console.error("unhandled error", err instanceof Error ? err.stack ?? err.message : String(err));
    return apiError(c, 500, "internal", "internal error");
  });
  app.notFound((c) => apiError(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

  app.get("/healthz", (c) => c.json({ ok: true }));

  // Agents authenticate with their node token inside the Durable Object, before the socket is accepted.
  app.get("/api/sites/:site/connect", async (c) => {
    const site = SiteId.safeParse(c.req.param("site"));
    if (!site.success) return apiError(c, 400, "invalid_site", `site: ${site.error.issues[0]?.message}`);
    return c.env.SITE_HUB.get(c.env.SITE_HUB.idFromName(site.data)).fetch(c.req.raw);
  });

  app.use("/api/*", bodyLimit({ maxSize: MAX_API_BODY_BYTES, onError: (c) => apiError(c, 413, "body_too_large", `request body over ${MAX_API_BODY_BYTES} bytes`) }));

  app.use("/api/sites/:site/*", async (c, next) => {
    const auth = await authenticate(c.req.raw, c.env);
    if (!auth.ok) return apiError(c, 401, "unauthorized", auth.message);
    const site = SiteId.safeParse(c.req.param("site"));
    if (!site.success) return apiError(c, 400, "invalid_site", `site: ${site.error.issues[0]?.message}`);
    c.set("principal", auth.principal);
    c.set("site", site.data);
    await next();
  });

  for (const route of SITE_ROUTES) {
    app.on(route.method.toUpperCase(), `/api/sites/:site${route.path}`, async (c) => {
      if (!authorize(c.get("principal"), c.get("site"), route.permission)) {
        return apiError(c, 403, "forbidden", `not allowed to ${route.permission} on site ${c.get("site")}`);
      }
      return route.handler(c);
    });
  }

  return app;
}
