import type { ApiKeyScope, UserView } from "../../protocol/accounts.ts";
import { SESSION_IDLE_MS, SESSION_MAX_MS } from "../directory/sessions.ts";
import type { SocketHolder } from "../shared/user-sockets.ts";
import type { CredentialKind, CredentialRecord, ResolvedCredential } from "./credential.ts";

/** Last use is recorded at most this often, so that reading pages does not write on every request. */
const TOUCH_EVERY_MS = 60_000;

interface CredentialRow {
  hash: string;
  kind: string;
  id: string | null;
  user: string;
  key_name: string | null;
  key_scope: string | null;
  created_at: number;
  expires_at: number | null;
  last_used_at: number;
  revoked_at: number | null;
  [key: string]: SqlStorageValue;
}

export type Resolution =
  | { found: true; value: ResolvedCredential }
  /** The credential is known and no longer works: a session that ended, a key revoked or expired. */
  | { found: false; ended: CredentialKind }
  | { found: false; ended: null };

/** Ended credentials are kept this long (a revoked hash never comes back; the row only has to outlive a move). */
const KEEP_ENDED_MS = SESSION_MAX_MS;
const PRUNE_EVERY = 200;

/** The `credentials` and `presence` tables of one shard. */
export class CredentialStore {
  private putsSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Stores a credential. A freshly issued one (`replace`) overwrites whatever the hash had; one moved over from the
   * Directory's old tables never does, so a revocation that reached the shard first (its tombstone) stands.
   */
  put(record: CredentialRecord, now: number, replace: boolean): void {
    this.sql.exec(
      `INSERT INTO credentials (hash, kind, id, user, key_name, key_scope, created_at, expires_at, last_used_at, revoked_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
       ON CONFLICT (hash) DO ${
         replace
           ? `UPDATE SET kind = excluded.kind, id = excluded.id, user = excluded.user, key_name = excluded.key_name,
              key_scope = excluded.key_scope, created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = NULL`
           : "NOTHING"
       }`,
      record.hash,
      record.kind,
      record.id,
      JSON.stringify(record.user),
      record.apiKey?.name ?? null,
      record.apiKey?.scope ?? null,
      record.createdAt,
      record.expiresAt,
      record.lastUsedAt,
    );
    if (++this.putsSincePrune >= PRUNE_EVERY) {
      this.putsSincePrune = 0;
      this.sql.exec("DELETE FROM credentials WHERE revoked_at IS NOT NULL AND revoked_at < ?", now - KEEP_ENDED_MS);
    }
  }

  /**
   * Who a hash belongs to, if it still works as the kind it was `presented` as; last use is recorded. A session found
   * too old is ended on the way. A credential of another kind does not hold: a single sign-on identity's hash is a
   * hash of text anyone can write (`sso:<email>`), and a read key sent as a cookie would act as its owner's session.
   */
  resolve(hash: string, now: number, presented: CredentialKind): Resolution {
    const row = this.sql.exec<CredentialRow>("SELECT * FROM credentials WHERE hash = ?", hash).toArray()[0];
    if (!row) return { found: false, ended: null };
    if (row.kind !== presented) return { found: false, ended: presented };
    const kind = row.kind as CredentialKind;
    if (row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now)) return { found: false, ended: kind };
    if (kind === "session" && (row.created_at <= now - SESSION_MAX_MS || row.last_used_at <= now - SESSION_IDLE_MS)) {
      this.sql.exec("UPDATE credentials SET revoked_at = ? WHERE hash = ?", now, hash);
      return { found: false, ended: kind };
    }
    if (now - row.last_used_at >= TOUCH_EVERY_MS) this.sql.exec("UPDATE credentials SET last_used_at = ? WHERE hash = ?", now, hash);
    return {
      found: true,
      value: {
        user: JSON.parse(row.user) as UserView,
        sessionId: kind === "session" ? row.id : null,
        apiKey: kind === "api_key" ? { id: row.id!, name: row.key_name!, scope: row.key_scope as ApiKeyScope } : null,
      },
    };
  }

  /**
   * Ends credentials: each is kept as revoked (a tombstone, even for a hash this shard has not seen yet, so that a
   * copy arriving later cannot bring it back). Returns those that worked until now.
   */
  revoke(items: readonly { hash: string; kind: CredentialKind }[], now: number): { hash: string; kind: CredentialKind; id: string | null }[] {
    const ended: { hash: string; kind: CredentialKind; id: string | null }[] = [];
    for (const { hash, kind } of items) {
      const row = this.sql.exec<CredentialRow>("SELECT kind, id, revoked_at FROM credentials WHERE hash = ?", hash).toArray()[0];
      if (row && row.revoked_at !== null) continue;
      if (row) {
        this.sql.exec("UPDATE credentials SET revoked_at = ? WHERE hash = ?", now, hash);
        ended.push({ hash, kind: row.kind as CredentialKind, id: row.id });
      } else {
        this.sql.exec(
          "INSERT INTO credentials (hash, kind, id, user, created_at, last_used_at, revoked_at) VALUES (?, ?, NULL, '{}', ?, ?, ?)",
          hash,
          kind,
          now,
          now,
          now,
        );
      }
    }
    return ended;
  }

  lastUsed(hashes: readonly string[]): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const hash of hashes) {
      out[hash] = this.sql.exec<{ t: number }>("SELECT last_used_at AS t FROM credentials WHERE hash = ?", hash).toArray()[0]?.t ?? null;
    }
    return out;
  }

  /** Notes that a credential opened a live socket held by `holder`, so that ending it can close the socket. */
  notePresence(hash: string, holder: SocketHolder, now: number): void {
    this.sql.exec("DELETE FROM presence WHERE hash = ? AND seen_at <= ?", hash, now - SESSION_MAX_MS);
    this.sql.exec(
      "INSERT INTO presence (hash, kind, name, seen_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash, kind, name) DO UPDATE SET seen_at = excluded.seen_at",
      hash,
      holder.kind,
      holder.name,
      now,
    );
  }

  holdersOf(hash: string): SocketHolder[] {
    return this.sql.exec<{ kind: string; name: string }>("SELECT kind, name FROM presence WHERE hash = ?", hash).toArray().map((r) => ({ kind: r.kind, name: r.name }));
  }

  forgetPresence(hash: string): void {
    this.sql.exec("DELETE FROM presence WHERE hash = ?", hash);
  }
}
