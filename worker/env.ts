import type { Conversation } from "../durable-objects/conversation/conversation.ts";
import type { CredentialShard } from "../durable-objects/credentials/credential-shard.ts";
import type { Directory } from "../durable-objects/directory/directory.ts";
import type { SiteHub } from "../durable-objects/site-hub/site-hub.ts";

/** Bindings and secrets the Worker and its Durable Objects run with (see wrangler.toml and `.dev.vars`). */
export interface Env {
  SITE_HUB: DurableObjectNamespace<SiteHub>;
  /**
   * The one Directory (people, passwords, passkeys, invites, audit, and the lists of sessions, keys, sites and
   * members), reached by idFromName("directory"); signing in and account pages use it, ordinary requests do not.
   */
  DIRECTORY: DurableObjectNamespace<Directory>;
  /** One AI chat conversation each, reached by idFromName("<site>/<conversation id>"). */
  CONVERSATION: DurableObjectNamespace<Conversation>;
  /** Roost storage: `sites/<site>/chunks/<sha256>` and `sites/<site>/roosts/<roost>/<version>.json` (see roost-keys.ts). */
  ROOST: R2Bucket;
  /** The credential shards every request is authenticated against, by the hash of its credential (shard-name.ts). */
  CREDENTIALS: DurableObjectNamespace<CredentialShard>;
  /** The dashboard's static files (web/dist); Cloudflare serves them before the Worker except for /api and /healthz. */
  ASSETS: Fetcher;
  /**
   * The bootstrap administrator key: created by `npm start` locally, a Worker secret when deployed. It acts as a
   * superadmin on every site (the break-glass credential) and is the setup code when CORTEX_SETUP_CODE is unset.
   */
  CORTEX_ADMIN_KEY?: string;
  /** The code that creates the first superadmin through `POST /api/setup` on a deployed hub (a Worker secret). */
  CORTEX_SETUP_CODE?: string;
  /** Cloudflare Access single sign-on: the team domain (`<team>.cloudflareaccess.com`) and the application's AUD tag. */
  CF_ACCESS_TEAM_DOMAIN?: string;
  CF_ACCESS_AUD?: string;
  /** Key material for encrypting stored secrets (LLM keys). */
  CORTEX_ENCRYPTION_KEY?: string;
  /** Escalation email of autonomous investigations (`[[send_email]]` in wrangler.toml); wrangler dev keeps the messages locally. */
  ESCALATION_EMAIL?: SendEmail;
  /** The sender of escalation emails: an address of a domain onboarded to Cloudflare Email (default cortex-hub@localhost). */
  CORTEX_EMAIL_FROM?: string;
  /** The hub's public address (https://cortex.example.com), for links in escalations. */
  CORTEX_PUBLIC_URL?: string;
  /** "1" lets escalation webhooks go to http://127.0.0.1 / localhost: for a local receiver while developing and testing. */
  CORTEX_ALLOW_LOOPBACK_WEBHOOKS?: string;
  /**
   * "1" lets AI keys name a base URL on a private or loopback address (a model server on the hub's own machine or
   * network). Off, the hub refuses to save or call one: any member may save a personal key, and its base URL would
   * otherwise make the hub reach whatever its machine can.
   */
  CORTEX_ALLOW_PRIVATE_LLM_URLS?: string;
}
