import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { SiteId } from "../protocol/identifiers.ts";
import { MAX_API_BODY_BYTES } from "../protocol/limits.ts";
import { remoteAccessKeys, type AccessKeySource } from "./auth/access-jwt.ts";
import { guardRoute } from "./auth/route-guard.ts";
import { apiError } from "./http/api-error.ts";
import { apiSecurityHeaders } from "./http/security-headers.ts";
import { activityRoutes } from "./routes/activity-routes.ts";
import { agentFile, agentRoutes } from "./routes/agent-routes.ts";
import { apiKeyRoutes } from "./routes/api-key-routes.ts";
import { auditRoutes } from "./routes/audit-routes.ts";
import { autonomyRoutes } from "./routes/autonomy-routes.ts";
import { chatRoutes } from "./routes/chat-routes.ts";
import { authRoutes } from "./routes/auth-routes.ts";
import { directiveRoutes } from "./routes/directive-routes.ts";
import { inviteAcceptRoutes } from "./routes/invite-accept-routes.ts";
import { liveRoutes } from "./routes/live-routes.ts";
import { personalKeyRoutes, siteKeyRoutes } from "./routes/llm-key-routes.ts";
import { memberRoutes } from "./routes/member-routes.ts";
import { metricsRoutes } from "./routes/metrics-routes.ts";
import { nodeRoutes } from "./routes/node-routes.ts";
import { passkeyRoutes } from "./routes/passkey-routes.ts";
import { roostDeployRoutes } from "./routes/roost-deploy-routes.ts";
import { roostNodeRoutes } from "./routes/roost-node-routes.ts";
import { roostPushRoutes } from "./routes/roost-push-routes.ts";
import { roostReadRoutes } from "./routes/roost-read-routes.ts";
import { processRoutes } from "./routes/process-routes.ts";
import { settingsRoutes } from "./routes/settings-routes.ts";
import type { AccountRoute, AppEnv, SiteRoute } from "./routes/site-context.ts";
import { siteListRoutes } from "./routes/site-list-routes.ts";

/** Every authenticated route under `/api/sites/:site`, each with the permission it needs. */
export const SITE_ROUTES: readonly SiteRoute[] = [
  ...nodeRoutes,
  ...directiveRoutes,
  ...activityRoutes,
  ...liveRoutes,
  ...metricsRoutes,
  ...memberRoutes,
  ...roostPushRoutes,
  ...roostReadRoutes,
  ...roostDeployRoutes,
  ...settingsRoutes,
  ...processRoutes,
  ...agentRoutes,
  ...chatRoutes,
  ...siteKeyRoutes,
  ...autonomyRoutes,
];

/** Every route about the hub or the caller's account (full paths), each with the permission it needs. */
export const ACCOUNT_ROUTES: readonly AccountRoute[] = [
  ...authRoutes,
  ...passkeyRoutes,
  ...apiKeyRoutes,
  ...siteListRoutes,
  ...inviteAcceptRoutes,
  ...auditRoutes,
  ...personalKeyRoutes,
];

/** Refuses a body over the route's limit before anything reads it (413); most routes take at most MAX_API_BODY_BYTES. */
function limitBody(route: SiteRoute) {
  const maxSize = route.maxBodyBytes ?? MAX_API_BODY_BYTES;
  return bodyLimit({ maxSize, onError: (c) => apiError(c, 413, "body_too_large", `request body over ${maxSize} bytes`) });
}

export interface AppOptions {
  /** Where Cloudflare Access signing keys come from; tests pass local keys. */
  accessKeys?: AccessKeySource;
}

export function createApp(options: AppOptions = {}): Hono<AppEnv> {
  const guard = { accessKeys: options.accessKeys ?? remoteAccessKeys };
  const app = new Hono<AppEnv>();

  app.onError((err, c) => {
    console.error("unhandled error", err instanceof Error ? err.stack ?? err.message : String(err));
    return apiError(c, 500, "internal", "internal error");
  });
  app.notFound((c) => apiError(c, 404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

  app.use("*", apiSecurityHeaders);

  app.get("/healthz", (c) => c.json({ ok: true }));
  // The agent bundle and its release hold no secret: anyone installing an agent downloads them.
  app.get("/agent/*", agentFile);

  // Agents authenticate with their node token inside the Durable Object, before the socket is accepted.
  app.get("/api/sites/:site/connect", async (c) => {
    const site = SiteId.safeParse(c.req.param("site"));
    if (!site.success) return apiError(c, 400, "invalid_site", `site: ${site.error.issues[0]?.message}`);
    return c.env.SITE_HUB.get(c.env.SITE_HUB.idFromName(site.data)).fetch(c.req.raw);
  });

  // Nodes download roost manifests and chunks with their node token, checked inside the Durable Object.
  for (const route of roostNodeRoutes) app.get(`/api/sites/:site${route.path}`, route.handler);

  // Every route goes through the same guard: body size, authenticate, check the origin of a state change, authorise.
  for (const route of ACCOUNT_ROUTES) app.on(route.method.toUpperCase(), route.path, limitBody(route), guardRoute(route, "hub", guard));
  for (const route of SITE_ROUTES) app.on(route.method.toUpperCase(), `/api/sites/:site${route.path}`, limitBody(route), guardRoute(route, "site", guard));

  return app;
}
