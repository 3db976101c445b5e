import type { ApiKeyScope, UserView } from "../../protocol/accounts.ts";
import type { CredentialRecord } from "../credentials/credential.ts";
import { ssoCredentialInput } from "../credentials/shard-name.ts";
import { sha256Hex } from "../shared/secrets.ts";

/** The credential a session becomes in its shard. */
export function sessionRecord(user: UserView, s: { id: string; tokenHash: string; createdAt: number; lastUsedAt: number }): CredentialRecord {
  return { hash: s.tokenHash, kind: "session", id: s.id, user, apiKey: null, createdAt: s.createdAt, lastUsedAt: s.lastUsedAt, expiresAt: null };
}

export function apiKeyRecord(
  user: UserView,
  k: { id: string; keyHash: string; name: string; scope: ApiKeyScope; createdAt: number; lastUsedAt: number | null; expiresAt: number | null },
): CredentialRecord {
  return {
    hash: k.keyHash,
    kind: "api_key",
    id: k.id,
    user,
    apiKey: { name: k.name, scope: k.scope },
    createdAt: k.createdAt,
    lastUsedAt: k.lastUsedAt ?? k.createdAt,
    expiresAt: k.expiresAt,
  };
}

/** A person's single sign-on identity: the credential a verified Cloudflare Access email stands for. */
export async function ssoRecord(user: UserView): Promise<CredentialRecord> {
  return { hash: await sha256Hex(ssoCredentialInput(user.email)), kind: "sso", id: null, user, apiKey: null, createdAt: user.createdAt, lastUsedAt: user.createdAt, expiresAt: null };
}
