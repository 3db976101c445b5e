import { siteOfAlertToken } from "../../protocol/alert-token.ts";
import type { CredentialKind, ResolvedCredential } from "../../durable-objects/credentials/credential.ts";
import { credentialShard, ssoCredentialInput } from "../../durable-objects/credentials/shard-name.ts";
import { ok, type HubResult } from "../../durable-objects/shared/hub-result.ts";
import { secretsEqual, sha256Hex } from "../../durable-objects/shared/secrets.ts";
import type { Env } from "../env.ts";
import type { AppContext } from "../routes/site-context.ts";
import { ACCESS_JWT_HEADER, accessConfig, verifyAccessJwt, type AccessKeySource } from "./access-jwt.ts";
import type { SiteAccessInfo } from "../../durable-objects/site-hub/site-access.ts";
import type { SiteRef } from "./authorize.ts";
import type { Principal } from "./principal.ts";
import { readSessionToken } from "./session-cookie.ts";
import { keepAccess, keptAccess } from "./site-access-cache.ts";
import { hashToken } from "./tokens.ts";

export type Authentication =
  | {
      ok: true;
      principal: Principal;
      site: SiteRef | null;
      /** The browser sent the credential by itself (session cookie or Access): a state change must prove its origin. */
      ambient: boolean;
      /**
       * When the site's answer was one this isolate kept (`keep`), its version: the route's call to the site object
       * must carry it, and everything authorised with it holds only if the object still has that version.
       */
      keptAccessVersion: string | null;
    }
  | { ok: false; code: string; message: string; clearCookie: boolean };

/** The bootstrap key counts only when it is long enough to be a real secret. */
const MIN_ADMIN_KEY_LENGTH = 32;

const ANONYMOUS: Principal = { kind: "anonymous", label: "anonymous" };

/** The site of the request as its own SiteHub knows it: whether it exists, and the caller's role there. */
async function siteAccess(env: Env, site: string, userId: string | null): Promise<SiteAccessInfo> {
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site)).access(site, userId);
}

/** A person's access to the site: one this isolate kept when `keep` allows it, else asked (and kept). */
async function personAccess(env: Env, site: string, userId: string, keep: boolean): Promise<{ info: SiteAccessInfo; kept: boolean }> {
  const known = keep ? keptAccess(site, userId) : undefined;
  if (known) return { info: known, kept: true };
  const info = await siteAccess(env, site, userId);
  keepAccess(site, userId, info);
  return { info, kept: false };
}

/**
 * A person's credential, checked in its shard, and their role on the request's site, asked of that site's
 * SiteHub: the two objects a request's authentication touches, both chosen by the request (no object shared by
 * the whole hub), and both read at every request, so an ended credential or a changed role acts on the next one
 * (the role may come from a kept answer only where the site object confirms it: site-access-cache.ts).
 */
async function person(
  env: Env,
  hash: string,
  kind: CredentialKind,
  site: string | null,
  keep: boolean,
): Promise<HubResult<{ principal: Principal; site: SiteRef | null; keptAccessVersion: string | null }>> {
  const found = await credentialShard(env, hash).resolve(hash, kind);
  if (!found.ok) return found;
  const who: ResolvedCredential = found.value;
  const asked = site ? await personAccess(env, site, who.user.id, keep) : null;
  const access = asked?.info ?? null;
  const label = who.apiKey ? `${who.user.email} (key ${who.apiKey.name})` : who.user.email;
  const principal: Principal = {
    kind,
    label,
    user: who.user,
    roles: site && access?.role ? { [site]: access.role } : {},
    sessionId: who.sessionId,
    apiKey: who.apiKey,
    credentialHash: hash,
  };
  return ok({ principal, site: site && access ? { id: site, exists: access.exists } : null, keptAccessVersion: asked?.kept ? asked.info.version : null });
}

/**
 * Establishes who is calling: `Authorization: Bearer` (the bootstrap admin key or a user's API key), else the
 * session cookie, else a Cloudflare Access token when single sign-on is configured, else nobody. A credential
 * that is presented but does not hold is a 401, never a silent fall back to anonymous; `lenient` (for public
 * routes) treats it as anonymous instead. For a request about a site, the site's SiteHub says whether it exists
 * and the caller's role there; with `keepAccess`, a person's answer this isolate kept may stand in (site-access-cache.ts).
 */
export async function authenticate(
  c: AppContext,
  site: string | null,
  options: { lenient: boolean; accessKeys: AccessKeySource; keepAccess?: boolean },
): Promise<Authentication> {
  const env = c.env;
  const keep = options.keepAccess === true;
  const refuse = (code: string, message: string, clearCookie = false): Authentication =>
    options.lenient ? { ok: true, principal: ANONYMOUS, site: null, ambient: false, keptAccessVersion: null } : { ok: false, code, message, clearCookie };

  const header = c.req.header("Authorization");
  if (header !== undefined) {
    const key = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!key) return refuse("unauthorized", "Authorization must be 'Bearer <api key>'");
    const admin = env.CORTEX_ADMIN_KEY;
    if (admin && admin.length >= MIN_ADMIN_KEY_LENGTH && (await secretsEqual(key, admin))) {
      const access = site ? await siteAccess(env, site, null) : null;
      return { ok: true, principal: { kind: "admin_key", label: "admin key" }, site: site && access ? { id: site, exists: access.exists } : null, ambient: false, keptAccessVersion: null };
    }
    const alertSite = siteOfAlertToken(key);
    if (alertSite) {
      // The site's own object holds the token's hash: a token is checked where it belongs, whatever the URL says.
      const matches = await env.SITE_HUB.get(env.SITE_HUB.idFromName(alertSite)).checkAlertToken(key);
      if (!matches) return refuse("unauthorized", "invalid or revoked Alertmanager token");
      const principal: Principal = { kind: "alert_webhook", label: `Alertmanager (site ${alertSite})`, site: alertSite };
      return { ok: true, principal, site: site === null ? null : { id: site, exists: true }, ambient: false, keptAccessVersion: null };
    }
    const found = await person(env, await hashToken(key), "api_key", site, keep);
    if (!found.ok) return refuse(found.error.code, found.error.message);
    return { ok: true, ...found.value, ambient: false };
  }

  const access = accessConfig(env);
  const accessToken = access ? c.req.header(ACCESS_JWT_HEADER) : undefined;

  const token = readSessionToken(c);
  if (token !== null) {
    const found = await person(env, await hashToken(token), "session", site, keep);
    if (found.ok) return { ok: true, ...found.value, ambient: true };
    if (!accessToken) return refuse(found.error.code, found.error.message, true);
  }

  if (access && accessToken) {
    const verified = await verifyAccessJwt(accessToken, access, options.accessKeys);
    if (!verified.ok) return refuse("invalid_access_token", verified.message);
    const found = await person(env, await sha256Hex(ssoCredentialInput(verified.email)), "sso", site, keep);
    if (!found.ok) return refuse("no_account", `no account for ${verified.email} on this hub; ask an admin for an invite`);
    return { ok: true, ...found.value, ambient: true };
  }

  return { ok: true, principal: ANONYMOUS, site: null, ambient: false, keptAccessVersion: null };
}
