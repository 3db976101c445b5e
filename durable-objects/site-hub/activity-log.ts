import type { ActivityEntry, ActivityKind, ActivityLevel, ActivityPage, ActivityQuery } from "../../protocol/api.ts";
import { jsonRowBatches } from "../shared/json-row-batches.ts";
import type { Viewer } from "./viewer-visibility.ts";

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
  directive_id: string | null;
  fanout_id: string | null;
  audience: string;
  subject: string | null;
  updated_at: number | null;
  [key: string]: SqlStorageValue;
}

/**
 * Who may read an entry. Everyone on the site reads what machines and directives did; what people did to get in
 * (sign-ins, failed sign-ins, keys, roles, invites) is for the site's admins, and for the person it is about.
 */
export type ActivityAudience = "site" | "admins";

/**
 * Who is reading: whether they may read the site's access events, which person they are (null for the admin key,
 * which is nobody), and whether they are confined to reading (then agent-written text reaches them redacted).
 */
export type ActivityReader = Viewer & { audit: boolean };

export interface NewActivity {
  kind: ActivityKind;
  level?: ActivityLevel;
  nodeId?: string | null;
  actor?: string | null;
  message: string;
  data?: Record<string, unknown>;
  directiveId?: string | null;
  fanoutId?: string | null;
  audience?: ActivityAudience;
  /** The user (id) an access event is about: they read it even when the audience is the admins. */
  subject?: string | null;
}

/** What changes in a directive's or fan-out's entry as it progresses. */
export interface ActivityChange {
  level: ActivityLevel;
  message: string;
  data: Record<string, unknown>;
}

/** An entry as stored, with who may read it, for the live viewers. */
export interface StoredActivity {
  entry: ActivityEntry;
  audience: ActivityAudience;
  subject: string | null;
}

function toStored(r: ActivityRow): StoredActivity {
  return {
    audience: r.audience === "admins" ? "admins" : "site",
    subject: r.subject,
    entry: {
      id: r.id,
      at: r.at,
      kind: r.kind as ActivityKind,
      level: r.level as ActivityLevel,
      nodeId: r.node_id,
      actor: r.actor,
      message: r.message,
      data: r.data ? (JSON.parse(r.data) as Record<string, unknown>) : null,
      directiveId: r.directive_id,
      fanoutId: r.fanout_id,
      updatedAt: r.updated_at,
    },
  };
}

/** An entry's columns after `at`, in the order both inserts name them. */
function activityValues(e: NewActivity): SqlStorageValue[] {
  return [
    e.kind,
    e.level ?? "info",
    e.nodeId ?? null,
    e.actor ?? null,
    e.message,
    e.data ? JSON.stringify(e.data) : null,
    e.directiveId ?? null,
    e.fanoutId ?? null,
    e.audience ?? "site",
    e.subject ?? null,
  ];
}

/** True when `reader` may read an entry for `audience` about `subject`: the one rule for the API and live sockets. */
export function mayRead(reader: ActivityReader, audience: ActivityAudience, subject: string | null): boolean {
  return audience === "site" || reader.audit || (subject !== null && subject === reader.userId);
}

export class ActivityLog {
  private appendsSincePrune = 0;

  /** `changed` hears of every entry added or updated, after it is written (the live dashboard relays them). */
  constructor(
    private readonly sql: SqlStorage,
    private readonly changed: (stored: StoredActivity) => void = () => undefined,
  ) {}

  /** One entry in one plain statement: most entries come alone (a directive, a node event), on every request's path. */
  append(e: NewActivity, now = Date.now()): void {
    const row = this.sql
      .exec<ActivityRow>(
        `INSERT INTO activity (at, kind, level, node_id, actor, message, data, directive_id, fanout_id, audience, subject)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        now,
        ...activityValues(e),
      )
      .one();
    this.added([row]);
  }

  /**
   * Adds entries, however many (a fan-out's, one per machine): they travel as JSON arrays (`jsonRowBatches`), since a
   * statement takes at most 100 bound values.
   */
  appendMany(entries: readonly NewActivity[], now = Date.now()): void {
    if (entries.length === 0) return;
    const values = entries.map((e) => JSON.stringify(activityValues(e)));
    const rows = jsonRowBatches(values)
      .flatMap((batch) =>
        this.sql
          .exec<ActivityRow>(
            `INSERT INTO activity (at, kind, level, node_id, actor, message, data, directive_id, fanout_id, audience, subject)
             SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9
             FROM json_each(?) ORDER BY key RETURNING *`,
            now,
            batch,
          )
          .toArray(),
      )
      .sort((a, b) => a.id - b.id);
    this.added(rows);
  }

  /** Prunes the oldest entries now and then, and tells the live viewers of what was added. */
  private added(rows: readonly ActivityRow[]): void {
    this.appendsSincePrune += rows.length;
    if (this.appendsSincePrune >= PRUNE_EVERY) {
      this.appendsSincePrune = 0;
      this.sql.exec("DELETE FROM activity WHERE id <= (SELECT MAX(id) FROM activity) - ?", MAX_ENTRIES);
    }
    for (const row of rows) this.changed(toStored(row));
  }

  /** Rewrites a directive's entry in place; false when it has none (pruned, or from before entries were kept whole). */
  updateDirective(directiveId: string, change: ActivityChange, now = Date.now()): boolean {
    return this.update("directive_id = ?", [directiveId], change, now);
  }

  /** Rewrites the entry that sums up a fan-out; false when it has none. */
  updateFanOut(fanoutId: string, change: ActivityChange, now = Date.now()): boolean {
    return this.update("fanout_id = ? AND directive_id IS NULL", [fanoutId], change, now);
  }

  private update(where: string, args: SqlStorageValue[], change: ActivityChange, now: number): boolean {
    const row = this.sql
      .exec<ActivityRow>(
        `UPDATE activity SET level = ?, message = ?, data = ?, updated_at = ? WHERE id = (SELECT MAX(id) FROM activity WHERE ${where}) RETURNING *`,
        change.level,
        change.message,
        JSON.stringify(change.data),
        now,
        ...args,
      )
      .toArray()[0];
    if (!row) return false;
    this.changed(toStored(row));
    return true;
  }

  query(q: ActivityQuery, reader: ActivityReader): ActivityPage {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (!reader.audit) (where.push("(audience = 'site' OR subject = ?)"), args.push(reader.userId ?? ""));
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
    return { entries: page.map((r) => toStored(r).entry), nextBefore: rows.length > q.limit ? page[page.length - 1]!.id : null };
  }
}
