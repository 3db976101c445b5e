import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { DirectoryContext } from "./directory-context.ts";
import type { CredentialRef, Identity } from "./identity.ts";

/** Resolves a request's credential to the user behind it and their roles as they are now. */
export function identify(ctx: DirectoryContext, credential: CredentialRef, site: string | null, now = Date.now()): HubResult<Identity> {
  const siteRef = site ? { id: site, exists: ctx.sites.exists(site) } : null;
  if (credential.kind === "admin_key") return ok({ user: null, roles: {}, sessionId: null, apiKey: null, site: siteRef });

  let userId: string | null = null;
  let sessionId: string | null = null;
  let apiKey: Identity["apiKey"] = null;
  switch (credential.kind) {
    case "session": {
      const session = ctx.sessions.resolve(credential.tokenHash, now);
      if (!session) return fail(401, "session_expired", "your session has expired or was signed out; sign in again");
      ({ userId, id: sessionId } = session);
      break;
    }
    case "api_key": {
      const key = ctx.apiKeys.resolve(credential.keyHash, now);
      if (!key) return fail(401, "invalid_api_key", "invalid API key");
      userId = key.userId;
      apiKey = { id: key.id, name: key.name, scope: key.scope };
      break;
    }
    case "sso": {
      const user = ctx.users.byEmail(credential.email);
      if (!user) return fail(401, "no_account", `no account for ${credential.email} on this hub; ask an admin for an invite`);
      userId = user.view.id;
      break;
    }
  }
  const user = ctx.users.byId(userId);
  if (!user) return fail(401, "no_account", "the account behind this credential no longer exists");
  return ok({ user: user.view, roles: ctx.memberships.rolesOf(user.view.id), sessionId, apiKey, site: siteRef });
}
