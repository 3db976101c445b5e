import { Metrics } from "../../protocol/metrics.ts";
import type { NodeStatus, NodeView } from "../../protocol/api.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import type { HubToolInput } from "../../protocol/tools/hub-tools.ts";
import type { TargetSource } from "./fan-out-targets.ts";

/** The `nodes` table: one row per node ever registered on the site, kept after deregistration for history. */

interface NodeRow {
  id: string;
  name: string;
  grp: string | null;
  tier: string;
  token_hash: string;
  token_prefix: string;
  status: string;
  running_tier: string | null;
  conn_id: string | null;
  created_at: number;
  connected_at: number | null;
  disconnected_at: number | null;
  last_heartbeat_at: number | null;
  deregistered_at: number | null;
  metrics: string | null;
  version: string | null;
  os: string | null;
  hostname: string | null;
  arch: string | null;
  sandbox_root: string | null;
  capabilities: string;
  last_error: string | null;
  ai_tools: number;
  [key: string]: SqlStorageValue;
}

export interface NodeRecord {
  view: NodeView;
  tokenHash: string;
  connId: string | null;
}

function parseMetrics(raw: string | null): NodeView["metrics"] {
  if (!raw) return null;
  const parsed = Metrics.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : null;
}

/** What a node's live connection knows newer than its row: heartbeats are written once a minute. */
export interface LiveHeartbeat {
  lastHeartbeatAt: number | null;
  metrics: NodeView["metrics"];
}

function toRecord(row: NodeRow, live: LiveHeartbeat | null): NodeRecord {
  return {
    tokenHash: row.token_hash,
    connId: row.conn_id,
    view: {
      id: row.id,
      name: row.name,
      group: row.grp,
      tier: row.tier as CapabilityTier,
      runningTier: row.running_tier as CapabilityTier | null,
      status: row.status as NodeStatus,
      createdAt: row.created_at,
      connectedAt: row.connected_at,
      disconnectedAt: row.disconnected_at,
      lastHeartbeatAt: Math.max(row.last_heartbeat_at ?? 0, live?.lastHeartbeatAt ?? 0) || null,
      deregisteredAt: row.deregistered_at,
      metrics: live?.metrics ?? parseMetrics(row.metrics),
      version: row.version,
      os: row.os,
      hostname: row.hostname,
      arch: row.arch,
      sandboxRoot: row.sandbox_root,
      capabilities: JSON.parse(row.capabilities) as string[],
      lastError: row.last_error,
      tokenPrefix: row.token_prefix,
      aiToolsAllowed: row.ai_tools === 1,
    },
  };
}

/** Which registered machines a listing wants: online (connected now), offline (registered, not connected) or all. */
export type MachineFilter = HubToolInput<"list_machines">;

export interface NewNode {
  id: string;
  name: string;
  group: string | null;
  tier: CapabilityTier;
  tokenHash: string;
  tokenPrefix: string;
}

export interface AgentFacts {
  connId: string;
  runningTier: CapabilityTier;
  version: string;
  capabilities: string[];
  hostname: string | null;
  os: string | null;
  arch: string | null;
  sandboxRoot: string | null;
}

export class NodeRegistry implements TargetSource {
  /**
   * `changed` hears of every write to a node's state, after it is made (the live dashboard relays them); `live` gives
   * a connection's heartbeat state newer than the row, overlaid on every record read.
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly changed: (id: string) => void = () => {},
    private readonly live: (connId: string) => LiveHeartbeat | null = () => null,
  ) {}

  get(id: string): NodeRecord | null {
    const rows = this.sql.exec<NodeRow>("SELECT * FROM nodes WHERE id = ?", id).toArray();
    return rows[0] ? this.toRecord(rows[0]) : null;
  }

  /** The connection a node's row names, without building its record (the socket lookup of every send needs only this). */
  connIdOf(id: string): string | null {
    return this.sql.exec<{ conn_id: string | null }>("SELECT conn_id FROM nodes WHERE id = ?", id).toArray()[0]?.conn_id ?? null;
  }

  /** A node's name, for the words of an activity entry. */
  nameOf(id: string): string | null {
    return this.sql.exec<{ name: string }>("SELECT name FROM nodes WHERE id = ?", id).toArray()[0]?.name ?? null;
  }

  list(): NodeRecord[] {
    return this.sql.exec<NodeRow>("SELECT * FROM nodes ORDER BY name, id").toArray().map((row) => this.toRecord(row));
  }

  registeredViews(): NodeView[] {
    return this.views("SELECT * FROM nodes WHERE status != 'deregistered' ORDER BY name, id");
  }

  groupViews(group: string): NodeView[] {
    return this.views("SELECT * FROM nodes WHERE grp = ? AND status != 'deregistered' ORDER BY name, id", group);
  }

  viewsAmong(ids: readonly string[]): NodeView[] {
    return this.views("SELECT * FROM nodes WHERE id IN (SELECT value FROM json_each(?)) AND status != 'deregistered'", JSON.stringify(ids));
  }

  /**
   * The registered machines a filter matches, by name: at most `limit` of them, and how many match. Building a record
   * reads its socket's state, so a site of thousands of machines builds only the page asked for.
   */
  find(filter: MachineFilter, limit: number): { total: number; records: NodeRecord[] } {
    const where = "status != 'deregistered' AND (?1 IS NULL OR grp = ?1) AND (?2 = 'all' OR (status = 'connected') = (?2 = 'online'))";
    const args = [filter.group ?? null, filter.status] as const;
    const total = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM nodes WHERE ${where}`, ...args).one().n;
    const rows = this.sql.exec<NodeRow>(`SELECT * FROM nodes WHERE ${where} ORDER BY name, id LIMIT ?3`, ...args, limit).toArray();
    return { total, records: rows.map((row) => this.toRecord(row)) };
  }

  /** How many machines are connected now: a count, without building their records. */
  connectedCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM nodes WHERE status = 'connected'").one().n;
  }

  /** Ids of the machines connected now, by id. */
  connectedIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM nodes WHERE status = 'connected' ORDER BY id")
      .toArray()
      .map((r) => r.id);
  }

  private views(query: string, ...args: string[]): NodeView[] {
    return this.sql
      .exec<NodeRow>(query, ...args)
      .toArray()
      .map((row) => this.toRecord(row).view);
  }

  private toRecord(row: NodeRow): NodeRecord {
    return toRecord(row, row.conn_id ? this.live(row.conn_id) : null);
  }

  /** Ids of nodes the table says are live, to reconcile against the sockets that really are. */
  liveIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM nodes WHERE status IN ('connected', 'connecting')")
      .toArray()
      .map((r) => r.id);
  }

  exists(id: string): boolean {
    return this.sql.exec("SELECT 1 FROM nodes WHERE id = ?", id).toArray().length > 0;
  }

  /** Inserts a node, or brings a deregistered one back under the same id with its history intact. */
  upsert(node: NewNode, now: number): void {
    this.sql.exec(
      `INSERT INTO nodes (id, name, grp, tier, token_hash, token_prefix, status, created_at)
       VALUES (?, ?, ?, ?, ?, ?, 'disconnected', ?)
       ON CONFLICT(id) DO UPDATE SET name = excluded.name, grp = excluded.grp, tier = excluded.tier,
         token_hash = excluded.token_hash, token_prefix = excluded.token_prefix, status = 'disconnected',
         deregistered_at = NULL, conn_id = NULL, running_tier = NULL, last_error = NULL`,
      node.id,
      node.name,
      node.group,
      node.tier,
      node.tokenHash,
      node.tokenPrefix,
      now,
    );
    this.changed(node.id);
  }

  setAiTools(id: string, allowed: boolean): void {
    this.sql.exec("UPDATE nodes SET ai_tools = ? WHERE id = ?", allowed ? 1 : 0, id);
    this.changed(id);
  }

  setToken(id: string, tokenHash: string, tokenPrefix: string): void {
    this.sql.exec("UPDATE nodes SET token_hash = ?, token_prefix = ? WHERE id = ?", tokenHash, tokenPrefix, id);
  }

  markConnecting(id: string): void {
    this.notifyIf(id, this.sql.exec("UPDATE nodes SET status = 'connecting' WHERE id = ? AND conn_id IS NULL AND status IN ('disconnected', 'error')", id));
  }

  markConnected(id: string, facts: AgentFacts, now: number): void {
    this.sql.exec(
      `UPDATE nodes SET status = 'connected', conn_id = ?, running_tier = ?, version = ?, capabilities = ?,
         hostname = ?, os = ?, arch = ?, sandbox_root = ?, connected_at = ?, last_heartbeat_at = ?, last_error = NULL
       WHERE id = ?`,
      facts.connId,
      facts.runningTier,
      facts.version,
      JSON.stringify(facts.capabilities),
      facts.hostname,
      facts.os,
      facts.arch,
      facts.sandboxRoot,
      now,
      now,
      id,
    );
    this.changed(id);
  }

  /** Marks the node disconnected only if `connId` is still its current connection; returns whether it was. */
  markDisconnected(id: string, connId: string | null, now: number, error: string | null = null): boolean {
    const status = error ? "error" : "disconnected";
    const cursor =
      connId === null
        ? this.sql.exec(
            "UPDATE nodes SET status = ?, conn_id = NULL, disconnected_at = ?, last_error = COALESCE(?, last_error) WHERE id = ? AND status IN ('connected', 'connecting')",
            status,
            now,
            error,
            id,
          )
        : this.sql.exec(
            "UPDATE nodes SET status = ?, conn_id = NULL, disconnected_at = ?, last_error = COALESCE(?, last_error) WHERE id = ? AND conn_id = ?",
            status,
            now,
            error,
            id,
            connId,
          );
    return this.notifyIf(id, cursor);
  }

  /** A socket that closed before registering leaves the node as it was before the attempt. */
  markConnectAbandoned(id: string): void {
    this.notifyIf(id, this.sql.exec("UPDATE nodes SET status = 'disconnected' WHERE id = ? AND conn_id IS NULL AND status = 'connecting'", id));
  }

  /** A connection attempt that was refused leaves the node in `error` with the reason, unless it is live. */
  markRefused(id: string, reason: string): void {
    this.notifyIf(
      id,
      this.sql.exec(
        "UPDATE nodes SET status = 'error', last_error = ? WHERE id = ? AND conn_id IS NULL AND status != 'deregistered'",
        reason,
        id,
      ),
    );
  }

  /**
   * One row written for what heartbeats brought (last heartbeat, latest metrics, the supervised processes' status):
   * once per node per minute, not per heartbeat, so it tells no viewer anything the live overlay had not shown.
   */
  recordHeartbeat(id: string, metrics: string | null, heartbeatAt: number, supervision: { json: string; at: number } | null = null): void {
    this.sql.exec(
      `UPDATE nodes SET last_heartbeat_at = MAX(COALESCE(last_heartbeat_at, 0), ?), metrics = COALESCE(?, metrics),
         supervision = COALESCE(?, supervision), supervision_at = COALESCE(?, supervision_at)
       WHERE id = ?`,
      heartbeatAt,
      metrics,
      supervision?.json ?? null,
      supervision?.at ?? null,
      id,
    );
  }

  markDeregistered(id: string, now: number): void {
    this.sql.exec(
      "UPDATE nodes SET status = 'deregistered', deregistered_at = ?, conn_id = NULL, disconnected_at = COALESCE(disconnected_at, ?) WHERE id = ?",
      now,
      now,
      id,
    );
    this.changed(id);
  }

  private notifyIf(id: string, cursor: SqlStorageCursor<Record<string, SqlStorageValue>>): boolean {
    if (cursor.rowsWritten === 0) return false;
    this.changed(id);
    return true;
  }
}
