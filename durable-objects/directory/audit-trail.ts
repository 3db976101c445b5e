import type { AuditEntry, AuditKind, AuditPage, AuditQuery } from "../../protocol/accounts.ts";

/** Bounded like a site's activity log: the oldest entries go once it grows past `MAX_ENTRIES`. */
const MAX_ENTRIES = 200_000;
const PRUNE_EVERY = 1_000;

interface AuditRow {
  id: number;
  at: number;
  kind: string;
  actor: string | null;
  site_id: string | null;
  ip: string | null;
  message: string;
  data: string | null;
  [key: string]: SqlStorageValue;
}

export interface NewAuditEntry {
  kind: AuditKind;
  actor: string | null;
  site?: string | null;
  /** Whether the site's own activity log gets it too (when `site` is set); yes unless said otherwise. */
  siteLog?: boolean;
  /**
   * The user (id) the event is about. They read it in the activity logs it goes to, and an event about a person
   * that names no site (a sign-in, a key) goes to the log of every site they are a member of.
   */
  subject?: string | null;
  /** How it reads in a site's log: a failed attempt to get in is a warning, the rest is information. */
  level?: "info" | "warn";
  ip: string | null;
  message: string;
  data?: Record<string, unknown>;
}

/** The hub-wide record of sign-ins, failed sign-ins, keys, invites, roles and sites. Never holds a secret. */
export class AuditTrail {
  private appendsSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {}

  append(entry: NewAuditEntry, now: number): void {
    this.sql.exec(
      "INSERT INTO audit (at, kind, actor, site_id, ip, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
      now,
      entry.kind,
      entry.actor,
      entry.site ?? null,
      entry.ip,
      entry.message,
      entry.data ? JSON.stringify(entry.data) : null,
    );
    if (++this.appendsSincePrune >= PRUNE_EVERY) {
      this.appendsSincePrune = 0;
      this.sql.exec("DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?", MAX_ENTRIES);
    }
  }

  query(q: AuditQuery): AuditPage {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.site) (where.push("site_id = ?"), args.push(q.site));
    if (q.kind) (where.push("kind = ?"), args.push(q.kind));
    if (q.before !== undefined) (where.push("id < ?"), args.push(q.before));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.sql.exec<AuditRow>(`SELECT * FROM audit ${clause} ORDER BY id DESC LIMIT ?`, ...args, q.limit + 1).toArray();
    const page = rows.slice(0, q.limit);
    const entries: AuditEntry[] = page.map((r) => ({
      id: r.id,
      at: r.at,
      kind: r.kind as AuditKind,
      actor: r.actor,
      site: r.site_id,
      ip: r.ip,
      message: r.message,
      data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : null,
    }));
    return { entries, nextBefore: rows.length > q.limit ? page[page.length - 1]!.id : null };
  }
}
