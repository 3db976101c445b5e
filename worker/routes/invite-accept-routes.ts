import { AcceptInviteRequest } from "../../protocol/accounts.ts";
import { hashPassword } from "../auth/passwords.ts";
import { setSessionCookie } from "../auth/session-cookie.ts";
import { hashToken, newSessionToken } from "../auth/tokens.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { parseBody } from "../http/validate.ts";
import { clientIp, directory, userAgent } from "./account-context.ts";
import type { AccountRoute } from "./site-context.ts";

/**
 * Joining a site with an invite link. A person signed in to the dashboard joins with their account; anybody else
 * (an API key counts as nobody here) creates an account with a name and a password and is signed in.
 */
export const inviteAcceptRoutes: AccountRoute[] = [
  {
    method: "post",
    path: "/api/invites/accept",
    permission: "public",
    handler: async (c) => {
      const body = await parseBody(c, AcceptInviteRequest);
      if (!body.ok) return body.response;
      const dir = directory(c);
      const tokenHash = await hashToken(body.value.token);
      const principal = c.get("principal");
      if (principal.kind === "session" || principal.kind === "sso") {
        return respond(c, await dir.acceptInvite(tokenHash, { as: "user", userId: principal.user.id, ip: clientIp(c) }));
      }
      const usable = await dir.usableInvite(tokenHash);
      if (!usable.ok) return failure(c, usable.error);
      const { name, password, email } = body.value;
      if (!name || !password) return apiError(c, 400, "account_details_required", "to accept as a new person, give a name and a password (or sign in first)");
      const token = newSessionToken();
      const session = { tokenHash: await hashToken(token), ip: clientIp(c), userAgent: userAgent(c) };
      const accepted = await dir.acceptInvite(tokenHash, { as: "new", email: email ?? null, name, passwordHash: await hashPassword(password), session });
      if (!accepted.ok) return failure(c, accepted.error);
      setSessionCookie(c, token);
      return c.json(accepted.value, 201);
    },
  },
];
