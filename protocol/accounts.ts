import { z } from "zod";
import { Label, SiteId } from "./identifiers.ts";

/** People, sessions, sites, roles, invites and API keys: the bodies of the accounts API. */

export const Email = z.string().trim().toLowerCase().email().max(254);
export const Password = z.string().min(12, "password must be at least 12 characters").max(1024);

/** Role on one site. Superadmin is a property of the user and covers every site. */
export const SiteRole = z.enum(["admin", "member"]);
export type SiteRole = z.infer<typeof SiteRole>;

export const ApiKeyScope = z.enum(["read", "chat", "admin"]);
export type ApiKeyScope = z.infer<typeof ApiKeyScope>;

export const UserView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  superadmin: z.boolean(),
  createdAt: z.number(),
});
export type UserView = z.infer<typeof UserView>;

export const Membership = z.object({ site: SiteId, siteName: z.string(), role: z.enum(["superadmin", "admin", "member"]) });
export type Membership = z.infer<typeof Membership>;

export const MeResponse = z.object({ user: UserView, memberships: z.array(Membership) });
export type MeResponse = z.infer<typeof MeResponse>;

/** First superadmin: the setup code is the local admin key, or the CORTEX_SETUP_CODE secret on a deployed hub. */
export const SetupRequest = z.object({ setupCode: z.string().min(1).max(512), email: Email, name: Label, password: Password });
export const LoginRequest = z.object({ email: Email, password: z.string().min(1).max(1024) });
export const ChangePasswordRequest = z.object({ currentPassword: z.string().min(1).max(1024), newPassword: Password });

export const SiteView = z.object({ id: SiteId, name: z.string(), createdAt: z.number(), role: Membership.shape.role });
export type SiteView = z.infer<typeof SiteView>;
export const CreateSiteRequest = z.object({ id: SiteId, name: Label });
export const RenameSiteRequest = z.object({ name: Label });

export const MemberView = z.object({ userId: z.string(), email: z.string(), name: z.string(), role: SiteRole, addedAt: z.number() });
export type MemberView = z.infer<typeof MemberView>;
export const ChangeRoleRequest = z.object({ role: SiteRole });

export const CreateInviteRequest = z.object({ email: Email.optional(), role: SiteRole, expiresInHours: z.number().int().min(1).max(24 * 30).default(72) });
export const InviteView = z.object({
  id: z.string(),
  site: SiteId,
  email: z.string().nullable(),
  role: SiteRole,
  createdAt: z.number(),
  expiresAt: z.number(),
  acceptedAt: z.number().nullable(),
  createdBy: z.string(),
});
export type InviteView = z.infer<typeof InviteView>;
/** The link is shown once, at creation. */
export const CreatedInvite = z.object({ invite: InviteView, url: z.string() });
/** Accepting: a signed-in user just joins; a new person also gives a name and password. */
export const AcceptInviteRequest = z.object({
  token: z.string().min(1).max(256),
  name: Label.optional(),
  password: Password.optional(),
});

export const CreateApiKeyRequest = z.object({
  name: Label,
  scope: ApiKeyScope,
  expiresAt: z.number().int().positive().optional(),
});
export const ApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  scope: ApiKeyScope,
  prefix: z.string(),
  createdAt: z.number(),
  expiresAt: z.number().nullable(),
  lastUsedAt: z.number().nullable(),
  revokedAt: z.number().nullable(),
});
export type ApiKeyView = z.infer<typeof ApiKeyView>;
/** The key itself is returned once, at creation, and stored only as a hash. */
export const CreatedApiKey = z.object({ apiKey: ApiKeyView, key: z.string() });

export const PasskeyView = z.object({ id: z.string(), name: z.string(), createdAt: z.number(), lastUsedAt: z.number().nullable() });
export type PasskeyView = z.infer<typeof PasskeyView>;
