import type { ApiKeyScope, SiteRole, UserView } from "../../protocol/accounts.ts";

/**
 * A credential the Worker has read from a request, reduced to what the Directory needs to look it up: the SHA-256
 * of a session token or API key (the Directory never sees either), an email vouched for by a verified single
 * sign-on token, or the bootstrap admin key, which the Worker has already checked against its secret.
 */
export type CredentialRef =
  | { kind: "session"; tokenHash: string }
  | { kind: "api_key"; keyHash: string }
  | { kind: "sso"; email: string }
  | { kind: "admin_key" };

/** Who a credential belongs to right now: looked up on every request, so a changed role applies at once. */
export interface Identity {
  /** Null for the bootstrap admin key, which belongs to nobody. */
  user: UserView | null;
  /** The user's role on each site they are a member of. */
  roles: Record<string, SiteRole>;
  sessionId: string | null;
  apiKey: { id: string; name: string; scope: ApiKeyScope } | null;
  /** The site the request is about, when it is about one. */
  site: { id: string; exists: boolean } | null;
}

/** Who did something and from where, for the audit trail. */
export interface Actor {
  actor: string;
  ip: string | null;
}
