import type { ApiKeyScope, UserView } from "../../protocol/accounts.ts";

/** What kind of credential a hash stands for. */
export type CredentialKind = "session" | "api_key" | "sso";

/**
 * A credential as its shard keeps it: everything a request needs to know who is calling, so that authenticating a
 * request reads this one row and nothing else. The person's details are copied in when the credential is issued.
 */
export interface CredentialRecord {
  /** SHA-256 of the token, the key, or `sso:<email>`; the secret itself is never stored. */
  hash: string;
  kind: CredentialKind;
  /** The session's or API key's id (what the Directory lists and revokes by); null for single sign-on. */
  id: string | null;
  user: UserView;
  /** For an API key: its name and scope. */
  apiKey: { name: string; scope: ApiKeyScope } | null;
  createdAt: number;
  /** When it was last used (for a new one, when it was made): a session idle for a week has ended. */
  lastUsedAt: number;
  /** When an API key stops working, if it was given an end; sessions end by idleness and age instead. */
  expiresAt: number | null;
}

/** Who a credential belongs to, as a request is authenticated with it. */
export interface ResolvedCredential {
  user: UserView;
  sessionId: string | null;
  apiKey: { id: string; name: string; scope: ApiKeyScope } | null;
}
