import type { ApiKeyScope, ApiKeyView } from "../../protocol/accounts.ts";

interface ApiKeyRow {
  id: string;
  key_hash: string;
  user_id: string;
  name: string;
  scope: string;
  prefix: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  [key: string]: SqlStorageValue;
}

function view(r: ApiKeyRow): ApiKeyView {
  return {
    id: r.id,
    name: r.name,
    scope: r.scope as ApiKeyScope,
    prefix: r.prefix,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

export interface NewApiKey {
  userId: string;
  name: string;
  scope: ApiKeyScope;
  keyHash: string;
  prefix: string;
  expiresAt: number | null;
}

/**
 * Each user's API keys as they are listed and revoked: the SHA-256 of the key with a short prefix to tell them
 * apart. A request is checked against the key's credential shard, which also records its last use; this list says
 * which keys a person has. `moved = 0` marks a key whose credential is not in its shard yet (see LegacyCredentials).
 */
export class ApiKeyStore {
  constructor(private readonly sql: SqlStorage) {}

  add(id: string, input: NewApiKey, now: number): ApiKeyView {
    this.sql.exec(
      "INSERT INTO api_keys (id, key_hash, user_id, name, scope, prefix, created_at, expires_at, moved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
      id,
      input.keyHash,
      input.userId,
      input.name,
      input.scope,
      input.prefix,
      now,
      input.expiresAt,
    );
    return this.get(input.userId, id)!;
  }

  get(userId: string, id: string): ApiKeyView | null {
    const row = this.sql.exec<ApiKeyRow>("SELECT * FROM api_keys WHERE id = ? AND user_id = ?", id, userId).toArray()[0];
    return row ? view(row) : null;
  }

  list(userId: string): ApiKeyView[] {
    return this.sql.exec<ApiKeyRow>("SELECT * FROM api_keys WHERE user_id = ? ORDER BY created_at DESC", userId).toArray().map(view);
  }

  /** The key's hash, to reach its credential. */
  hashOf(userId: string, id: string): string | null {
    return this.sql.exec<{ key_hash: string }>("SELECT key_hash FROM api_keys WHERE id = ? AND user_id = ?", id, userId).toArray()[0]?.key_hash ?? null;
  }

  /** The user's keys that are not revoked yet, with their hashes. */
  unrevokedOf(userId: string): { id: string; keyHash: string }[] {
    return this.sql
      .exec<{ id: string; key_hash: string }>("SELECT id, key_hash FROM api_keys WHERE user_id = ? AND revoked_at IS NULL", userId)
      .toArray()
      .map((r) => ({ id: r.id, keyHash: r.key_hash }));
  }

  /** The key's credential is in its shard now. */
  markMoved(id: string): void {
    this.sql.exec("UPDATE api_keys SET moved = 1 WHERE id = ?", id);
  }

  markRevoked(ids: readonly string[], now: number): void {
    for (const id of ids) this.sql.exec("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", now, id);
  }

}
