import type { SocketHolder } from "../shared/user-sockets.ts";
import { SESSION_MAX_MS } from "./sessions.ts";

interface PresenceRow {
  kind: string;
  name: string;
  [key: string]: SqlStorageValue;
}

/**
 * Which objects hold (or held) a person's live sockets, and for which site, so that signing out or losing access
 * closes them without waking every site of the hub. A row is a hint: a holder whose sockets have all closed
 * answers "none" and its row is forgotten; a row older than the longest session is forgotten too.
 */
export class LivePresence {
  constructor(private readonly sql: SqlStorage) {}

  note(userId: string, holder: SocketHolder, site: string, now: number): void {
    this.sql.exec("DELETE FROM live_presence WHERE user_id = ? AND seen_at <= ?", userId, now - SESSION_MAX_MS);
    this.sql.exec(
      "INSERT INTO live_presence (user_id, kind, name, site_id, seen_at) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (user_id, kind, name) DO UPDATE SET seen_at = excluded.seen_at",
      userId,
      holder.kind,
      holder.name,
      site,
      now,
    );
  }

  /** The holders of a person's sockets, on one site or on all. */
  holdersOf(userId: string, site: string | null): SocketHolder[] {
    const rows = site
      ? this.sql.exec<PresenceRow>("SELECT kind, name FROM live_presence WHERE user_id = ? AND site_id = ?", userId, site)
      : this.sql.exec<PresenceRow>("SELECT kind, name FROM live_presence WHERE user_id = ?", userId);
    return rows.toArray().map((r) => ({ kind: r.kind, name: r.name }));
  }

  forget(userId: string, holder: SocketHolder): void {
    this.sql.exec("DELETE FROM live_presence WHERE user_id = ? AND kind = ? AND name = ?", userId, holder.kind, holder.name);
  }
}
