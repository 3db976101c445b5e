import type { SiteHub } from "../durable-objects/site-hub/site-hub.ts";

/** Bindings and secrets the Worker and its Durable Objects run with (see wrangler.toml and `.dev.vars`). */
export interface Env {
  SITE_HUB: DurableObjectNamespace<SiteHub>;
  /** The bootstrap administrator key: created by `npm start` locally, a Worker secret when deployed. */
  CORTEX_ADMIN_KEY?: string;
  /** Key material for encrypting stored secrets (LLM keys). */
  CORTEX_ENCRYPTION_KEY?: string;
}
