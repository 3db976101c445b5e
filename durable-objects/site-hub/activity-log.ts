import type { ActivityEntry, ActivityKind, ActivityLevel, ActivityPage, ActivityQuery } from "../../protocol/api.ts";

/** The site's timeline. Bounded: the oldest entries are pruned once it grows past `MAX_ENTRIES`. */
const MAX_ENTRIES = 200_000;
const PRUNE_EVERY = 1_000;

interface ActivityRow {
  id: number;
  at: number;
  kind: string;
  level: string;
  node_id: string | null;
  actor: string | null;
  message: string;
  data: string | null;
  [key: string]: SqlStorageValue;
}

export interface NewActivity {
  kind: ActivityKind;
  level?: ActivityLevel;
  nodeId?: string | null;
  actor?: string | null;
  message: string;
  data?: Record<string, unknown>;
}

export class ActivityLog {
  private appendsSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {}

  append(entry: NewActivity, now = Date.now()): void {
    this.sql.exec(
      "INSERT INTO activity (at, kind, level, node_id, actor, message, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
      now,
      entry.kind,
      entry.level ?? "info",
      entry.nodeId ?? null,
      entry.actor ?? null,
      entry.message,
      entry.data ? JSON.stringify(entry.data) : null,
    );
    if (++this.appendsSincePrune >= PRUNE_EVERY) {
      this.appendsSincePrune = 0;
      this.sql.exec("DELETE FROM activity WHERE id <= (SELECT MAX(id) FROM activity) - ?", MAX_ENTRIES);
    }
  }

  query(q: ActivityQuery): ActivityPage {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.kind) (where.push("kind = ?"), args.push(q.kind));
    if (q.level) (where.push("level = ?"), args.push(q.level));
    if (q.node) (where.push("node_id = ?"), args.push(q.node));
    if (q.since !== undefined) (where.push("at >= ?"), args.push(q.since));
    if (q.until !== undefined) (where.push("at <= ?"), args.push(q.until));
    if (q.before !== undefined) (where.push("id < ?"), args.push(q.before));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.sql
      .exec<ActivityRow>(`SELECT * FROM activity ${clause} ORDER BY id DESC LIMIT ?`, ...args, q.limit + 1)
      .toArray();
    const page = rows.slice(0, q.limit);
    const entries: ActivityEntry[] = page.map((r) => ({
      id: r.id,
      at: r.at,
      kind: r.kind as ActivityKind,
      level: r.level as ActivityLevel,
      nodeId: r.node_id,
      actor: r.actor,
      message: r.message,
      data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : null,
    }));
    return { entries, nextBefore: rows.length > q.limit ? page[page.length - 1]!.id : null };
  }
}
