import { MIN_HEARTBEAT_MS } from "../../protocol/limits.ts";
import { ProcessSpec, SupervisionStatus, type ProcessConfig, type ProcessEvent } from "../../protocol/processes.ts";

/**
 * The site's supervised processes in SQLite: each node's list (`processes`, one row per process), the version of
 * that list as a whole (`process_config`), the ids of the events agents reported (`process_events`, to drop repeats),
 * and the latest status, kept on the node's own row (`nodes.supervision`) where heartbeats write it: at once when
 * something other than the processes' CPU and memory figures changed, else with the node's once-a-minute write.
 */

/** Event ids are kept this long to recognise a repeat; an agent resends within minutes, not weeks. */
const EVENT_RETENTION_MS = 30 * 86_400_000;
const PRUNE_EVERY = 500;
/** A node's report is written to its row at most this often; its agent reports once per heartbeat, at least 1 s apart. */
const SUPERVISION_WRITE_GAP_MS = MIN_HEARTBEAT_MS;
/**
 * Event ids kept per node to drop repeats: a node reporting new events without end must not grow the site's storage
 * without end (its activity entries are bounded by the node's hourly quota).
 */
export const MAX_EVENT_IDS_PER_NODE = 5_000;

export interface StoredProcess {
  spec: ProcessSpec;
  createdAt: number;
  updatedAt: number;
  updatedBy: string;
}

interface ProcessRow {
  name: string;
  spec: string;
  created_at: number;
  updated_at: number;
  updated_by: string;
  [key: string]: SqlStorageValue;
}

function toStored(row: ProcessRow): StoredProcess | null {
  const parsed = ProcessSpec.safeParse(JSON.parse(row.spec));
  if (!parsed.success) {
    console.warn(`stored process ${row.name} no longer fits its schema; left out`);
    return null;
  }
  return { spec: parsed.data, createdAt: row.created_at, updatedAt: row.updated_at, updatedBy: row.updated_by };
}

export class ProcessStore {
  private insertsSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {}

  list(nodeId: string): StoredProcess[] {
    return this.sql
      .exec<ProcessRow>("SELECT name, spec, created_at, updated_at, updated_by FROM processes WHERE node_id = ? ORDER BY name", nodeId)
      .toArray()
      .flatMap((row) => toStored(row) ?? []);
  }

  get(nodeId: string, name: string): StoredProcess | null {
    const row = this.sql.exec<ProcessRow>("SELECT name, spec, created_at, updated_at, updated_by FROM processes WHERE node_id = ? AND name = ?", nodeId, name).toArray()[0];
    return row ? toStored(row) : null;
  }

  count(nodeId: string): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM processes WHERE node_id = ?", nodeId).one().n;
  }

  put(nodeId: string, spec: ProcessSpec, actor: string, now: number): void {
    this.sql.exec(
      `INSERT INTO processes (node_id, name, spec, created_at, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (node_id, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      nodeId,
      spec.name,
      JSON.stringify(spec),
      now,
      now,
      actor,
    );
  }

  remove(nodeId: string, name: string): boolean {
    return this.sql.exec("DELETE FROM processes WHERE node_id = ? AND name = ?", nodeId, name).rowsWritten > 0;
  }

  /** The version of the node's list; 0 while it never had one. */
  version(nodeId: string): number {
    return this.sql.exec<{ version: number }>("SELECT version FROM process_config WHERE node_id = ?", nodeId).toArray()[0]?.version ?? 0;
  }

  /**
   * A new version for the node's list: above the last one, and at least the current time in ms, so that a hub whose
   * storage was reset still issues versions newer than any an agent keeps from before.
   */
  bumpVersion(nodeId: string, now: number): number {
    const version = Math.max(this.version(nodeId) + 1, now);
    this.sql.exec("INSERT INTO process_config (node_id, version) VALUES (?, ?) ON CONFLICT (node_id) DO UPDATE SET version = excluded.version", nodeId, version);
    return version;
  }

  /** What `config_update` carries for the node, or null when it never had a list (nothing to send). */
  config(nodeId: string): ProcessConfig | null {
    const version = this.version(nodeId);
    return version === 0 ? null : { version, processes: this.list(nodeId).map((p) => p.spec) };
  }

  /**
   * Each node's latest report while it is newer than its row: held in memory until the node's next row write, so a
   * woken object shows the row's, at most a minute old, until the next heartbeat.
   */
  private readonly reports = new Map<string, { status: SupervisionStatus; at: number }>();
  /** Nodes whose report in memory differs from their row in more than figures: written once the gap has passed. */
  private readonly changed = new Set<string>();
  /** When each node's report was last written to its row, by this instance of the object. */
  private readonly writtenAt = new Map<string, number>();

  /** The node's latest reported status, or null before any report. */
  supervision(nodeId: string): { status: SupervisionStatus; reportedAt: number } | null {
    const live = this.reports.get(nodeId);
    if (live) return { status: live.status, reportedAt: live.at };
    return this.storedSupervision(nodeId);
  }

  /** The names of the node's processes, the only ones its reports may speak of. */
  names(nodeId: string): Set<string> {
    return new Set(this.sql.exec<{ name: string }>("SELECT name FROM processes WHERE node_id = ?", nodeId).toArray().map((r) => r.name));
  }

  /**
   * Takes a heartbeat's report; true when the row must be written now, because it differs from the row in more than
   * the processes' CPU and memory figures (the Processes views' states, pids, exits, versions), at most once per
   * `SUPERVISION_WRITE_GAP_MS` a node: a node sending heartbeats back to back, each with a new reason, would otherwise
   * have each one written. A change within the gap is written by the first heartbeat after it.
   */
  report(nodeId: string, status: SupervisionStatus, at: number): boolean {
    const before = this.supervision(nodeId)?.status ?? null;
    this.reports.set(nodeId, { status, at });
    if (before === null || withoutFigures(before) !== withoutFigures(status)) this.changed.add(nodeId);
    const last = this.writtenAt.get(nodeId);
    return this.changed.has(nodeId) && (last === undefined || at - last >= SUPERVISION_WRITE_GAP_MS);
  }

  /** The report not on the node's row yet, taken to be written with it. */
  takeUnwritten(nodeId: string): { json: string; at: number } | null {
    const live = this.reports.get(nodeId);
    if (!live) return null;
    this.written(nodeId, live.at);
    return { json: JSON.stringify(live.status), at: live.at };
  }

  private written(nodeId: string, at: number): void {
    this.reports.delete(nodeId);
    this.changed.delete(nodeId);
    this.writtenAt.set(nodeId, at);
  }

  private storedSupervision(nodeId: string): { status: SupervisionStatus; reportedAt: number } | null {
    const row = this.sql.exec<{ supervision: string | null; supervision_at: number | null }>("SELECT supervision, supervision_at FROM nodes WHERE id = ?", nodeId).toArray()[0];
    if (!row?.supervision || row.supervision_at === null) return null;
    const parsed = SupervisionStatus.safeParse(JSON.parse(row.supervision));
    return parsed.success ? { status: parsed.data, reportedAt: row.supervision_at } : null;
  }

  /** Stores a status the hub derived (events applied), keeping when the report it came from was made. */
  saveSupervision(nodeId: string, status: SupervisionStatus): void {
    const live = this.reports.get(nodeId);
    if (live) this.written(nodeId, live.at);
    this.sql.exec("UPDATE nodes SET supervision = ?, supervision_at = COALESCE(?, supervision_at) WHERE id = ?", JSON.stringify(status), live?.at ?? null, nodeId);
  }

  /** Records an event's id; false when the node already reported it (a repeat, to acknowledge and drop). */
  recordEvent(nodeId: string, event: ProcessEvent, now: number): boolean {
    const written = this.sql.exec(
      "INSERT INTO process_events (node_id, id, name, kind, at, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      nodeId,
      event.id,
      event.name,
      event.kind,
      event.at,
      now,
    ).rowsWritten;
    if (written > 0 && ++this.insertsSincePrune >= PRUNE_EVERY) {
      this.insertsSincePrune = 0;
      this.sql.exec("DELETE FROM process_events WHERE received_at < ?", now - EVENT_RETENTION_MS);
      this.sql.exec(
        "DELETE FROM process_events WHERE node_id = ? AND id NOT IN (SELECT id FROM process_events WHERE node_id = ? ORDER BY received_at DESC, id LIMIT ?)",
        nodeId,
        nodeId,
        MAX_EVENT_IDS_PER_NODE,
      );
    }
    return written > 0;
  }
}

/**
 * A report as the Processes views' states see it: everything but the figures that move on every heartbeat, keys in
 * one order whether it came from the agent's frame or from the row.
 */
function withoutFigures(status: SupervisionStatus): string {
  const sorted = (_key: string, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v;
  return JSON.stringify({ ...status, processes: status.processes.map((p) => ({ ...p, cpuPercent: null, memoryBytes: null })) }, sorted);
}
