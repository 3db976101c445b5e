import * as z from "zod";
import { ChangeRoleRequest, CreateInviteRequest, RenameSiteRequest, type SiteView } from "../../protocol/accounts.ts";
import { hashToken, newInviteToken } from "../auth/tokens.ts";
import { requesterOf } from "../auth/requester.ts";
import { failure, respond } from "../http/api-error.ts";
import { parseBody, parseParam } from "../http/validate.ts";
import { directory, signedInUser, who } from "./account-context.ts";
import type { AppContext, SiteRoute } from "./site-context.ts";

const UserId = z.string().regex(/^u-[0-9a-f-]{36}$/, "not a user id");
const InviteId = z.string().regex(/^i-[0-9a-f-]{36}$/, "not an invite id");
const HOUR_MS = 3600_000;

/** The caller's role on the route's site (the guard has established they have one). */
function roleHere(c: AppContext): SiteView["role"] {
  if (c.get("principal").kind === "admin_key") return "superadmin";
  const { user, roles } = signedInUser(c);
  return user.superadmin ? "superadmin" : (roles[c.get("site")] ?? "member");
}

/** A site's name, its members and its invites. */
export const memberRoutes: SiteRoute[] = [
  {
    method: "patch",
    path: "",
    permission: "site.manage",
    handler: async (c) => {
      const body = await parseBody(c, RenameSiteRequest);
      if (!body.ok) return body.response;
      const renamed = await directory(c).renameSite(c.get("site"), body.value.name, who(c));
      if (!renamed.ok) return failure(c, renamed.error);
      return c.json({ ...renamed.value, role: roleHere(c) } satisfies SiteView);
    },
  },
  {
    method: "get",
    path: "/members",
    permission: "members.read",
    handler: async (c) => c.json(await directory(c).listMembers(c.get("site"))),
  },
  {
    method: "patch",
    path: "/members/:userId",
    permission: "members.manage",
    handler: async (c) => {
      const userId = parseParam(c, UserId, "userId");
      if (!userId.ok) return userId.response;
      const body = await parseBody(c, ChangeRoleRequest);
      if (!body.ok) return body.response;
      return respond(c, await directory(c).changeRole(c.get("site"), userId.value, body.value.role, who(c)));
    },
  },
  {
    method: "delete",
    path: "/members/:userId",
    permission: "members.manage",
    handler: async (c) => {
      const userId = parseParam(c, UserId, "userId");
      if (!userId.ok) return userId.response;
      return respond(c, await directory(c).removeMember(c.get("site"), userId.value, who(c)));
    },
  },
  {
    method: "get",
    path: "/invites",
    permission: "members.manage",
    handler: async (c) => c.json({ invites: await directory(c).listInvites(c.get("site")) }),
  },
  {
    method: "post",
    path: "/invites",
    permission: "members.manage",
    handler: async (c) => {
      const body = await parseBody(c, CreateInviteRequest);
      if (!body.ok) return body.response;
      const token = newInviteToken();
      const created = await directory(c).createInvite(
        {
          site: c.get("site"),
          email: body.value.email ?? null,
          role: body.value.role,
          tokenHash: await hashToken(token),
          expiresAt: Date.now() + body.value.expiresInHours * HOUR_MS,
          createdByUser: requesterOf(c).userId,
        },
        who(c),
      );
      if (!created.ok) return failure(c, created.error);
      return c.json({ invite: created.value, url: `${new URL(c.req.url).origin}/invite/${token}` }, 201);
    },
  },
  {
    method: "delete",
    path: "/invites/:id",
    permission: "members.manage",
    handler: async (c) => {
      const id = parseParam(c, InviteId, "id");
      if (!id.ok) return id.response;
      return respond(c, await directory(c).revokeInvite(c.get("site"), id.value, who(c)));
    },
  },
];
