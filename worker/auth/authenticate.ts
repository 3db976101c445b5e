import { siteOfAlertToken } from "../../protocol/alert-token.ts";
import type { CredentialRef, Identity } from "../../durable-objects/directory/identity.ts";
import type { HubResult } from "../../durable-objects/shared/hub-result.ts";
import { secretsEqual } from "../../durable-objects/shared/secrets.ts";
import type { Env } from "../env.ts";
import type { AppContext } from "../routes/site-context.ts";
import { ACCESS_JWT_HEADER, accessConfig, verifyAccessJwt, type AccessKeySource } from "./access-jwt.ts";
import type { SiteRef } from "./authorize.ts";
import { directoryOf } from "./directory-stub.ts";
import type { Principal } from "./principal.ts";
import { readSessionToken } from "./session-cookie.ts";
import { hashToken } from "./tokens.ts";

export type Authentication =
  | {
      ok: true;
      principal: Principal;
      site: SiteRef | null;
      /** The browser sent the credential by itself (session cookie or Access): a state change must prove its origin. */
      ambient: boolean;
    }
  | { ok: false; code: string; message: string; clearCookie: boolean };

/** The bootstrap key counts only when it is long enough to be a real secret. */
const MIN_ADMIN_KEY_LENGTH = 32;

const ANONYMOUS: Principal = { kind: "anonymous", label: "anonymous" };

function principalOf(kind: "session" | "sso" | "api_key", identity: Identity): Principal {
  const user = identity.user!;
  const label = identity.apiKey ? `${user.email} (key ${identity.apiKey.name})` : user.email;
  return { kind, label, user, roles: identity.roles, sessionId: identity.sessionId, apiKey: identity.apiKey };
}

async function lookUp(env: Env, credential: CredentialRef, site: string | null): Promise<HubResult<Identity>> {
  return directoryOf(env).identify(credential, site);
}

/**
 * Establishes who is calling: `Authorization: Bearer` (the bootstrap admin key or a user's API key), else the
 * session cookie, else a Cloudflare Access token when single sign-on is configured, else nobody. A credential
 * that is presented but does not hold is a 401, never a silent fall back to anonymous; `lenient` (for public
 * routes) treats it as anonymous instead. `site` is looked up in the same round trip to the Directory.
 */
export async function authenticate(
  c: AppContext,
  site: string | null,
  options: { lenient: boolean; accessKeys: AccessKeySource },
): Promise<Authentication> {
  const env = c.env;
  const refuse = (code: string, message: string, clearCookie = false): Authentication =>
    options.lenient ? { ok: true, principal: ANONYMOUS, site: null, ambient: false } : { ok: false, code, message, clearCookie };

  const header = c.req.header("Authorization");
  if (header !== undefined) {
    const key = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!key) return refuse("unauthorized", "Authorization must be 'Bearer <api key>'");
    const admin = env.CORTEX_ADMIN_KEY;
    if (admin && admin.length >= MIN_ADMIN_KEY_LENGTH && (await secretsEqual(key, admin))) {
      const known = site ? await lookUp(env, { kind: "admin_key" }, site) : null;
      if (known && !known.ok) return refuse(known.error.code, known.error.message);
      return { ok: true, principal: { kind: "admin_key", label: "admin key" }, site: known?.value.site ?? null, ambient: false };
    }
    const alertSite = siteOfAlertToken(key);
    if (alertSite) {
      // The site's own object holds the token's hash: a token is checked where it belongs, whatever the URL says.
      const matches = await env.SITE_HUB.get(env.SITE_HUB.idFromName(alertSite)).checkAlertToken(key);
      if (!matches) return refuse("unauthorized", "invalid or revoked Alertmanager token");
      const principal: Principal = { kind: "alert_webhook", label: `Alertmanager (site ${alertSite})`, site: alertSite };
      return { ok: true, principal, site: site === null ? null : { id: site, exists: true }, ambient: false };
    }
    const found = await lookUp(env, { kind: "api_key", keyHash: await hashToken(key) }, site);
    if (!found.ok) return refuse(found.error.code, found.error.message);
    return { ok: true, principal: principalOf("api_key", found.value), site: found.value.site, ambient: false };
  }

  const access = accessConfig(env);
  const accessToken = access ? c.req.header(ACCESS_JWT_HEADER) : undefined;

  const token = readSessionToken(c);
  if (token !== null) {
    const found = await lookUp(env, { kind: "session", tokenHash: await hashToken(token) }, site);
    if (found.ok) return { ok: true, principal: principalOf("session", found.value), site: found.value.site, ambient: true };
    if (!accessToken) return refuse(found.error.code, found.error.message, true);
  }

  if (access && accessToken) {
    const verified = await verifyAccessJwt(accessToken, access, options.accessKeys);
    if (!verified.ok) return refuse("invalid_access_token", verified.message);
    const found = await lookUp(env, { kind: "sso", email: verified.email }, site);
    if (!found.ok) return refuse(found.error.code, found.error.message);
    return { ok: true, principal: principalOf("sso", found.value), site: found.value.site, ambient: true };
  }

  return { ok: true, principal: ANONYMOUS, site: null, ambient: false };
}
