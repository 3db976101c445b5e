/** A session ends after a week without use, and a month after sign-in whatever happens. */
export const SESSION_IDLE_MS = 7 * 24 * 3600_000;
export const SESSION_MAX_MS = 30 * 24 * 3600_000;
/** Last use is recorded at most this often, so that reading pages does not write on every request. */
const TOUCH_EVERY_MS = 60_000;

interface SessionRow {
  id: string;
  user_id: string;
  created_at: number;
  last_used_at: number;
  [key: string]: SqlStorageValue;
}

/** Server-side records of signed-in browsers, found by the SHA-256 of the cookie's token (never the token). */
export class SessionStore {
  constructor(private readonly sql: SqlStorage) {}

  create(input: { userId: string; tokenHash: string; ip: string | null; userAgent: string | null }, now: number): string {
    this.sql.exec(
      "DELETE FROM sessions WHERE user_id = ? AND (created_at <= ? OR last_used_at <= ?)",
      input.userId,
      now - SESSION_MAX_MS,
      now - SESSION_IDLE_MS,
    );
    const id = `s-${crypto.randomUUID()}`;
    this.sql.exec(
      "INSERT INTO sessions (id, token_hash, user_id, created_at, last_used_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
      id,
      input.tokenHash,
      input.userId,
      now,
      now,
      input.ip,
      input.userAgent?.slice(0, 300) ?? null,
    );
    return id;
  }

  /** The live session with this token hash; an expired one is deleted on the way. */
  resolve(tokenHash: string, now: number): { id: string; userId: string } | null {
    const row = this.sql.exec<SessionRow>("SELECT id, user_id, created_at, last_used_at FROM sessions WHERE token_hash = ?", tokenHash).toArray()[0];
    if (!row) return null;
    if (row.created_at <= now - SESSION_MAX_MS || row.last_used_at <= now - SESSION_IDLE_MS) {
      this.sql.exec("DELETE FROM sessions WHERE id = ?", row.id);
      return null;
    }
    if (now - row.last_used_at >= TOUCH_EVERY_MS) this.sql.exec("UPDATE sessions SET last_used_at = ? WHERE id = ?", now, row.id);
    return { id: row.id, userId: row.user_id };
  }

  /** Ends a session; returns whose it was, or null when it had ended already. */
  revoke(id: string): string | null {
    return this.sql.exec<{ user_id: string }>("DELETE FROM sessions WHERE id = ? RETURNING user_id", id).toArray()[0]?.user_id ?? null;
  }

  /** Ends every session of the user but `keep` (the one asking, when it should stay signed in); returns their ids. */
  revokeAllOf(userId: string, keep: string | null = null): string[] {
    return this.sql
      .exec<{ id: string }>("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ? RETURNING id", userId, keep)
      .toArray()
      .map((r) => r.id);
  }
}
