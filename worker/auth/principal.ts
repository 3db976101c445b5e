import type { ApiKeyScope, SiteRole, UserView } from "../../protocol/accounts.ts";

/** A signed-in person, however they proved it. */
export interface UserPrincipal {
  kind: "session" | "sso" | "api_key";
  /** How the caller is named in records and logs: the email, and the key's name for an API key. */
  label: string;
  user: UserView;
  /** Their role on the request's site, as that site's object has it at this request (the only site looked up). */
  roles: Record<string, SiteRole>;
  sessionId: string | null;
  apiKey: { id: string; name: string; scope: ApiKeyScope } | null;
  /** The SHA-256 of the credential the request came with, to reach its shard (live sockets note themselves there). */
  credentialHash: string;
}

/** Who is making a request, as established by authentication. */
export type Principal =
  | { kind: "anonymous"; label: "anonymous" }
  /** The bootstrap admin key (CORTEX_ADMIN_KEY): a superadmin that belongs to nobody, kept for break-glass use. */
  | { kind: "admin_key"; label: "admin key" }
  /** A site's Alertmanager webhook token: it may post alerts to its own site and do nothing else. */
  | { kind: "alert_webhook"; label: string; site: string }
  | UserPrincipal;

/**
 * What a request wants to do. Site permissions are checked against the caller's role on the site in the URL;
 * the others are about the hub or the caller's own account.
 */
export type Permission =
  /** Anyone, signed in or not: setup, sign-in, accepting an invite, the health check. */
  | "public"
  /** The caller's own account and the sites they can see: any credential. */
  | "account.read"
  /** Password, passkeys, API keys, sessions: a signed-in person (session or SSO), never a key. */
  | "account.manage"
  /** The caller's personal LLM key: a signed-in person, or their admin-scoped API key (the CLI); never a read or chat key. */
  | "account.llm"
  /** Hub-wide administration: superadmins. */
  | "sites.create"
  | "audit.read"
  /** Per site: members read, admins manage. */
  | "settings.read"
  | "site.manage"
  | "members.read"
  | "members.manage"
  | "nodes.read"
  | "nodes.manage"
  | "directives.read"
  /** Running an action: members and read or chat keys only actions of risk tier 1. */
  | "directives.run"
  /** Reading, finding and searching outside the site's readable paths: site admins (and admin keys of admins). */
  | "files.readAnywhere"
  | "activity.read"
  /**
   * Changing a node's supervised processes, with the risk tier of the change: 2 for when and how it runs, 3 for
   * what runs (adding, removing, command, folder, environment). Members and read or chat keys: never.
   */
  | "processes.manage"
  /** The site's access events (sign-ins, keys, roles, invites) in its activity log: admins, not members or read keys. */
  | "activity.audit"
  /** Roost: everyone on the site sees roosts, versions and deployments; admins push, deploy and roll back. */
  | "roost.read"
  | "roost.push"
  | "roost.deploy"
  | "roost.rollback"
  /** The AI chat: anyone on the site may chat (tools capped by role); a conversation's owner alone writes in it. */
  | "chat.use"
  /** Reading, stopping and deleting other people's conversations: site admins. */
  | "chat.review"
  /** Posting Alertmanager notifications: the site's Alertmanager token, and nobody else. */
  | "alerts.post";

export const SITE_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>([
  "settings.read",
  "site.manage",
  "members.read",
  "members.manage",
  "nodes.read",
  "nodes.manage",
  "directives.read",
  "directives.run",
  "files.readAnywhere",
  "activity.read",
  "processes.manage",
  "activity.audit",
  "roost.read",
  "roost.push",
  "roost.deploy",
  "roost.rollback",
  "chat.use",
  "chat.review",
  "alerts.post",
]);

/** The signed-in person behind a principal, or null for the anonymous caller and the tokens that belong to nobody. */
export function userOf(principal: Principal): UserPrincipal | null {
  return principal.kind === "anonymous" || principal.kind === "admin_key" || principal.kind === "alert_webhook" ? null : principal;
}

/** How a principal is named as the owner of a conversation: the user's id, or "admin-key" for the bootstrap key. */
export function principalId(principal: Principal): string | null {
  if (principal.kind === "anonymous" || principal.kind === "alert_webhook") return null;
  return principal.kind === "admin_key" ? "admin-key" : principal.user.id;
}
