import type { ActivityLog, NewActivity } from "./activity-log.ts";

/** Activity entries one node can cause in an hour through its connection: connects, drops, reports, refusals. */
export const NODE_ACTIVITY_PER_HOUR = 200;
const HOUR_MS = 3600_000;

interface QuotaRow {
  window_start: number;
  used: number;
  noted: number;
  [key: string]: SqlStorageValue;
}

/**
 * The activity log as seen from a node's connection. What a node does by itself (connecting, disconnecting,
 * reporting errors, being refused) is written only while the node has quota left this hour; past it, one line
 * says that further entries are dropped until the hour is over. A node token holder reconnecting in a loop or
 * sending error reports can therefore neither fill the site's storage nor push real history out of the log.
 */
export class NodeActivityQuota {
  constructor(
    private readonly sql: SqlStorage,
    private readonly activity: ActivityLog,
  ) {}

  /** Appends an entry about `entry.nodeId` if that node has quota left (entries about no node always). */
  append(entry: NewActivity, now = Date.now()): void {
    const nodeId = entry.nodeId ?? null;
    if (nodeId === null) return this.activity.append(entry, now);
    const row = this.sql.exec<QuotaRow>("SELECT window_start, used, noted FROM node_activity_quota WHERE node_id = ?", nodeId).toArray()[0];
    const fresh = !row || now - row.window_start >= HOUR_MS;
    const windowStart = fresh ? now : row.window_start;
    const used = fresh ? 0 : row.used;
    let noted = fresh ? 0 : row.noted;
    if (used < NODE_ACTIVITY_PER_HOUR) {
      this.activity.append(entry, now);
    } else if (!noted) {
      const until = new Date(windowStart + HOUR_MS).toISOString();
      this.activity.append(
        {
          kind: "node",
          level: "warn",
          nodeId,
          message: `node ${nodeId} caused ${NODE_ACTIVITY_PER_HOUR} activity entries this hour; its further ones are dropped until ${until}`,
        },
        now,
      );
      noted = 1;
    }
    this.sql.exec(
      "INSERT INTO node_activity_quota (node_id, window_start, used, noted) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (node_id) DO UPDATE SET window_start = excluded.window_start, used = excluded.used, noted = excluded.noted",
      nodeId,
      windowStart,
      used + 1,
      noted,
    );
  }
}
