/** A session ends after a week without use, and a month after sign-in whatever happens. */
export const SESSION_IDLE_MS = 7 * 24 * 3600_000;
export const SESSION_MAX_MS = 30 * 24 * 3600_000;

/** A session as the Directory lists it, to end it: its credential lives in a shard (`durable-objects/credentials`). */
export interface SessionEntry {
  id: string;
  tokenHash: string;
}

interface SessionRow {
  id: string;
  token_hash: string;
  user_id: string;
  created_at: number;
  [key: string]: SqlStorageValue;
}

/**
 * The list of each person's sessions, by the SHA-256 of the cookie's token (never the token): what "sign out" and
 * "sign out everywhere" end. Whether a session still works is decided by its credential shard, which requests ask;
 * this list only has to know which sessions to end. Rows older than the longest session are dropped as new ones
 * come. `moved = 0` marks a session whose credential is not in its shard yet (from before the shards, or whose copy
 * failed), which LegacyCredentials copies over.
 */
export class SessionStore {
  constructor(private readonly sql: SqlStorage) {}

  add(input: { id: string; userId: string; tokenHash: string; ip: string | null; userAgent: string | null }, now: number): void {
    this.sql.exec("DELETE FROM sessions WHERE user_id = ? AND created_at <= ?", input.userId, now - SESSION_MAX_MS);
    this.sql.exec(
      "INSERT INTO sessions (id, token_hash, user_id, created_at, last_used_at, ip, user_agent, moved) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
      input.id,
      input.tokenHash,
      input.userId,
      now,
      now,
      input.ip,
      input.userAgent?.slice(0, 300) ?? null,
    );
  }

  get(id: string): (SessionEntry & { userId: string }) | null {
    const row = this.sql.exec<SessionRow>("SELECT id, token_hash, user_id, created_at FROM sessions WHERE id = ?", id).toArray()[0];
    return row ? { id: row.id, tokenHash: row.token_hash, userId: row.user_id } : null;
  }

  /** Every session of the user but `keep` (the one asking, when it should stay signed in). */
  allOf(userId: string, keep: string | null = null): SessionEntry[] {
    return this.sql
      .exec<SessionRow>("SELECT id, token_hash, user_id, created_at FROM sessions WHERE user_id = ? AND id IS NOT ?", userId, keep)
      .toArray()
      .map((r) => ({ id: r.id, tokenHash: r.token_hash }));
  }

  /** The session's credential is in its shard now. */
  markMoved(id: string): void {
    this.sql.exec("UPDATE sessions SET moved = 1 WHERE id = ?", id);
  }

  remove(ids: readonly string[]): void {
    for (const id of ids) this.sql.exec("DELETE FROM sessions WHERE id = ?", id);
  }
}
