import type { ApiKeyScope, ApiKeyView } from "../../protocol/accounts.ts";

/** Last use is recorded at most this often. */
const TOUCH_EVERY_MS = 60_000;

interface ApiKeyRow {
  id: string;
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

export interface ActiveApiKey {
  id: string;
  userId: string;
  name: string;
  scope: ApiKeyScope;
}

export interface NewApiKey {
  userId: string;
  name: string;
  scope: ApiKeyScope;
  keyHash: string;
  prefix: string;
  expiresAt: number | null;
}

/** Each user's API keys, stored as the SHA-256 of the key with a short prefix to tell them apart. */
export class ApiKeyStore {
  constructor(private readonly sql: SqlStorage) {}

  create(input: NewApiKey, now: number): ApiKeyView {
    const id = `k-${crypto.randomUUID()}`;
    this.sql.exec(
      "INSERT INTO api_keys (id, key_hash, user_id, name, scope, prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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

  revoke(userId: string, id: string, now: number): void {
    this.sql.exec("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL", now, id, userId);
  }

  /** Revokes every live key of the user; returns their ids. */
  revokeAllOf(userId: string, now: number): string[] {
    return this.sql
      .exec<{ id: string }>("UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING id", now, userId)
      .toArray()
      .map((r) => r.id);
  }

  /** The key with this hash if it is neither revoked nor expired; its last use is recorded. */
  resolve(keyHash: string, now: number): ActiveApiKey | null {
    const row = this.sql.exec<ApiKeyRow>("SELECT * FROM api_keys WHERE key_hash = ?", keyHash).toArray()[0];
    if (!row || row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now)) return null;
    if (row.last_used_at === null || now - row.last_used_at >= TOUCH_EVERY_MS) {
      this.sql.exec("UPDATE api_keys SET last_used_at = ? WHERE id = ?", now, row.id);
    }
    return { id: row.id, userId: row.user_id, name: row.name, scope: row.scope as ApiKeyScope };
  }
}
