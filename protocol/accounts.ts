import * as z from "zod";
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

/** How the caller proved who they are: a session cookie, an API key (with its scope), the bootstrap admin key, or SSO. */
export const CredentialView = z.object({
  kind: z.enum(["session", "api_key", "admin_key", "sso"]),
  scope: ApiKeyScope.nullable(),
  keyName: z.string().nullable(),
});
export type CredentialView = z.infer<typeof CredentialView>;

export const MeResponse = z.object({ user: UserView, memberships: z.array(Membership), credential: CredentialView.optional() });
export type MeResponse = z.infer<typeof MeResponse>;

/** First superadmin: the setup code is the local admin key, or the CORTEX_SETUP_CODE secret on a deployed hub. */
export const SetupRequest = z.object({ setupCode: z.string().min(1).max(512), email: Email, name: Label, password: Password });
export const LoginRequest = z.object({ email: Email, password: z.string().min(1).max(1024) });
/**
 * Changing the password signs out the other sessions; `revokeApiKeys` also revokes every API key of the account and
 * removes every passkey (whoever held the session may have added one, and nobody can tell whose a passkey is).
 */
export const ChangePasswordRequest = z.object({ currentPassword: z.string().min(1).max(1024), newPassword: Password, revokeApiKeys: z.boolean().default(false) });
/** "Sign out everywhere", optionally revoking every API key and removing every passkey too. The body may be left out. */
export const SignOutEverywhereRequest = z.object({ revokeApiKeys: z.boolean().default(false) }).strict();
/** What a password change or "sign out everywhere" ended. */
export const SignedOut = z.object({ signedOutSessions: z.number().int(), revokedApiKeys: z.number().int() });
export type SignedOut = z.infer<typeof SignedOut>;

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
/**
 * Accepting: a signed-in user just joins; a new person also gives a name and password, and an email when the
 * invite was not addressed to one.
 */
export const AcceptInviteRequest = z.object({
  token: z.string().min(1).max(256),
  name: Label.optional(),
  password: Password.optional(),
  email: Email.optional(),
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

// ---- lists: each collection is answered as an object, so fields can be added later ----

export const SiteListResponse = z.object({ sites: z.array(SiteView) });
/** Someone with access to every site: a superadmin, listed with each site's members though not one of them. */
export const SuperadminView = z.object({ userId: z.string(), email: z.string(), name: z.string() });
export type SuperadminView = z.infer<typeof SuperadminView>;
/** Everyone with access to a site: its members with their roles, and the hub's superadmins. */
export const MemberListResponse = z.object({ members: z.array(MemberView), superadmins: z.array(SuperadminView).default([]) });
export type MemberListResponse = z.infer<typeof MemberListResponse>;
export const InviteListResponse = z.object({ invites: z.array(InviteView) });
export const ApiKeyListResponse = z.object({ apiKeys: z.array(ApiKeyView) });
export const PasskeyListResponse = z.object({ passkeys: z.array(PasskeyView) });

// ---- passkeys (WebAuthn): the browser's JSON, as @simplewebauthn/browser produces it ----

const Base64Url = z.string().max(16_384).regex(/^[A-Za-z0-9_-]*$/, "must be base64url");
const CredentialId = Base64Url.min(1).max(1_366);
const Transports = z.array(z.string().max(32)).max(10);

export const PasskeyRegistrationCredential = z.object({
  id: CredentialId,
  rawId: CredentialId,
  type: z.literal("public-key"),
  response: z
    .object({ clientDataJSON: Base64Url, attestationObject: Base64Url, transports: Transports.optional() })
    .loose(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
});

export const PasskeyAuthenticationCredential = z.object({
  id: CredentialId,
  rawId: CredentialId,
  type: z.literal("public-key"),
  response: z
    .object({ clientDataJSON: Base64Url, authenticatorData: Base64Url, signature: Base64Url, userHandle: Base64Url.optional() })
    .loose(),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
});

/**
 * Adding a passkey asks for the account's password: a session alone (a cookie taken from an unlocked laptop) must
 * not be able to plant a way back in that outlives the victim changing their password.
 */
export const PasskeyRegisterOptionsRequest = z.object({ password: z.string().min(1).max(1024) });
export const PasskeyRegisterVerifyRequest = z.object({ name: Label.default("passkey"), response: PasskeyRegistrationCredential });
/** The email is accepted for the sign-in form's convenience and ignored: passkeys are discoverable, and answering
 * differently for known and unknown emails would tell who has an account. */
export const PasskeyLoginOptionsRequest = z.object({ email: z.string().max(254).optional() });
export const PasskeyLoginVerifyRequest = z.object({ response: PasskeyAuthenticationCredential });

// ---- audit trail (superadmins) ----

export const AuditKind = z.enum(["setup", "sign_in", "sign_in_failed", "sign_out", "password", "passkey", "api_key", "site", "invite", "member", "llm_key"]);
export type AuditKind = z.infer<typeof AuditKind>;

export const AuditEntry = z.object({
  id: z.number().int(),
  at: z.number(),
  kind: AuditKind,
  actor: z.string().nullable(),
  site: z.string().nullable(),
  ip: z.string().nullable(),
  message: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AuditQuery = z.object({
  site: SiteId.optional(),
  kind: AuditKind.optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type AuditQuery = z.output<typeof AuditQuery>;

export const AuditPage = z.object({ entries: z.array(AuditEntry), nextBefore: z.number().int().nullable() });
export type AuditPage = z.infer<typeof AuditPage>;
