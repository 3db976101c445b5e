import { ChangePasswordRequest, LoginRequest, SetupRequest, SignOutEverywhereRequest, type MeResponse } from "../../protocol/accounts.ts";
import { secretsEqual } from "../../durable-objects/shared/secrets.ts";
import { hashPassword, verifyPassword } from "../auth/passwords.ts";
import { clearSessionCookie, setSessionCookie } from "../auth/session-cookie.ts";
import { hashToken, newSessionToken } from "../auth/tokens.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { parseBody, parseOptionalBody } from "../http/validate.ts";
import { clientIp, directory, signedInUser, userAgent, who } from "./account-context.ts";
import type { AccountRoute, AppContext } from "./site-context.ts";

/** A fresh session token and the record of it the Directory keeps. */
async function newSession(c: AppContext) {
  const token = newSessionToken();
  return { token, session: { tokenHash: await hashToken(token), ip: clientIp(c), userAgent: userAgent(c) } };
}

/** The setup codes this hub accepts: its CORTEX_SETUP_CODE secret and its bootstrap admin key, whichever are set. */
function setupCodes(c: AppContext): string[] {
  return [c.env.CORTEX_SETUP_CODE, c.env.CORTEX_ADMIN_KEY].filter((code): code is string => !!code);
}

async function isSetupCode(c: AppContext, given: string): Promise<boolean> {
  let match = false;
  for (const code of setupCodes(c)) if (await secretsEqual(given, code)) match = true;
  return match;
}

/** The bootstrap admin key has no account; it is shown as a superadmin that belongs to nobody. */
async function meOf(c: AppContext): Promise<Response> {
  const principal = c.get("principal");
  if (principal.kind === "admin_key") {
    const me: MeResponse = {
      user: { id: "admin-key", email: "", name: "admin key", superadmin: true, createdAt: 0 },
      memberships: (await directory(c).listSites({ userId: null, superadmin: true })).map((s) => ({ site: s.id, siteName: s.name, role: s.role })),
      credential: { kind: "admin_key", scope: null, keyName: null },
    };
    return c.json(me);
  }
  const user = signedInUser(c);
  const found = await directory(c).me(user.user.id);
  if (!found.ok) return failure(c, found.error);
  const credential = { kind: user.kind, scope: user.apiKey?.scope ?? null, keyName: user.apiKey?.name ?? null };
  return c.json({ ...found.value, credential } satisfies MeResponse);
}

export const authRoutes: AccountRoute[] = [
  {
    method: "post",
    path: "/api/setup",
    permission: "public",
    handler: async (c) => {
      const body = await parseBody(c, SetupRequest);
      if (!body.ok) return body.response;
      if (setupCodes(c).length === 0) {
        return apiError(c, 503, "setup_unavailable", "this hub has no setup code: set the CORTEX_SETUP_CODE secret (wrangler secret put CORTEX_SETUP_CODE)");
      }
      const dir = directory(c);
      const begun = await dir.beginSetup(clientIp(c));
      if (!begun.ok) return failure(c, begun.error);
      if (!(await isSetupCode(c, body.value.setupCode))) {
        await dir.setupRefused(clientIp(c));
        return apiError(c, 403, "wrong_setup_code", "wrong setup code");
      }
      const { token, session } = await newSession(c);
      const { email, name, password } = body.value;
      const done = await dir.completeSetup({ email, name, passwordHash: await hashPassword(password), session });
      if (!done.ok) return failure(c, done.error);
      setSessionCookie(c, token);
      return c.json(done.value, 201);
    },
  },
  {
    method: "post",
    path: "/api/auth/login",
    permission: "public",
    handler: async (c) => {
      const body = await parseBody(c, LoginRequest);
      if (!body.ok) return body.response;
      const dir = directory(c);
      const check = await dir.beginPasswordLogin(body.value.email, clientIp(c));
      if (!check.ok) return failure(c, check.error);
      const passwordOk = await verifyPassword(body.value.password, check.value.passwordHash);
      const { token, session } = await newSession(c);
      const done = await dir.finishPasswordLogin({ check: check.value, passwordOk, session });
      if (!done.ok) return failure(c, done.error);
      setSessionCookie(c, token);
      return c.json(done.value);
    },
  },
  {
    method: "post",
    path: "/api/auth/logout",
    permission: "public",
    handler: async (c) => {
      const principal = c.get("principal");
      if (principal.kind === "session" && principal.sessionId) await directory(c).signOut(principal.sessionId, who(c));
      clearSessionCookie(c);
      return c.body(null, 204);
    },
  },
  {
    method: "post",
    path: "/api/auth/logout-all",
    permission: "account.manage",
    handler: async (c) => {
      const body = await parseOptionalBody(c, SignOutEverywhereRequest);
      if (!body.ok) return body.response;
      const done = await directory(c).signOutEverywhere(signedInUser(c).user.id, body.value.revokeApiKeys, who(c));
      clearSessionCookie(c);
      return c.json(done);
    },
  },
  {
    method: "get",
    path: "/api/auth/me",
    permission: "account.read",
    handler: meOf,
  },
  {
    method: "post",
    path: "/api/auth/password",
    permission: "account.manage",
    handler: async (c) => {
      const body = await parseBody(c, ChangePasswordRequest);
      if (!body.ok) return body.response;
      const user = signedInUser(c);
      const dir = directory(c);
      const check = await dir.beginPasswordChange(user.user.id, clientIp(c));
      if (!check.ok) return failure(c, check.error);
      const passwordOk = await verifyPassword(body.value.currentPassword, check.value.passwordHash);
      const newPasswordHash = passwordOk ? await hashPassword(body.value.newPassword) : "";
      return respond(
        c,
        await dir.finishPasswordChange({
          check: check.value,
          passwordOk,
          newPasswordHash,
          keepSessionId: user.sessionId,
          revokeApiKeys: body.value.revokeApiKeys,
          ip: clientIp(c),
        }),
      );
    },
  },
];
