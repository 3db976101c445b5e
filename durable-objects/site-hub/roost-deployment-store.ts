import type {
  DeploymentCounts,
  DeploymentKind,
  DeploymentListQuery,
  DeploymentSpec,
  DeploymentState,
  DeploymentView,
  RoostProgress,
  TargetStatus,
  TargetView,
} from "../../protocol/roost-api.ts";

/** A deployment's options as stored (everything of the request but the version, targets and path). */
export type StoredSpec = Omit<DeploymentSpec, "version" | "target" | "path"> & { manifestSha256: string; requestedByUser: string | null };

interface DeploymentRow {
  seq: number;
  id: string;
  kind: string;
  roost: string;
  version: number;
  path: string;
  spec: string;
  state: string;
  reason: string | null;
  requested_by: string;
  created_at: number;
  updated_at: number;
  [key: string]: SqlStorageValue;
}

interface TargetRow {
  deployment_id: string;
  node_id: string;
  position: number;
  wave: string;
  status: string;
  directive_id: string | null;
  progress: string | null;
  error: string | null;
  started_at: number | null;
  ended_at: number | null;
  [key: string]: SqlStorageValue;
}

export interface DeploymentRecord {
  id: string;
  kind: DeploymentKind;
  roost: string;
  version: number;
  path: string;
  spec: StoredSpec;
  state: DeploymentState;
  requestedBy: string;
}

export interface NewTarget {
  nodeId: string;
  wave: "canary" | "rest";
  status: TargetStatus;
  error?: string;
}

function targetView(r: TargetRow): TargetView {
  return {
    nodeId: r.node_id,
    wave: r.wave as TargetView["wave"],
    status: r.status as TargetStatus,
    directiveId: r.directive_id,
    progress: r.progress ? (JSON.parse(r.progress) as RoostProgress) : null,
    error: r.error,
    startedAt: r.started_at,
    endedAt: r.ended_at,
  };
}

/** States in which machines may still be started. */
export const LIVE_STATES: readonly DeploymentState[] = ["canary", "held", "rolling", "completed"];

/** The `roost_deployments` and `roost_targets` tables. */
export class DeploymentStore {
  constructor(private readonly sql: SqlStorage) {}

  insert(d: Omit<DeploymentRecord, "state"> & { state: DeploymentState }, targets: readonly NewTarget[], now: number): void {
    this.sql.exec(
      `INSERT INTO roost_deployments (id, kind, roost, version, path, spec, state, reason, requested_by, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)`,
      d.id,
      d.kind,
      d.roost,
      d.version,
      d.path,
      JSON.stringify(d.spec),
      d.state,
      d.requestedBy,
      now,
      now,
    );
    targets.forEach((t, position) => {
      const ended = t.status === "skipped" ? now : null;
      this.sql.exec(
        "INSERT INTO roost_targets (deployment_id, node_id, position, wave, status, error, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        d.id,
        t.nodeId,
        position,
        t.wave,
        t.status,
        t.error ?? null,
        ended,
      );
    });
  }

  record(id: string): DeploymentRecord | null {
    const r = this.sql.exec<DeploymentRow>("SELECT * FROM roost_deployments WHERE id = ?", id).toArray()[0];
    return r ? this.toRecord(r) : null;
  }

  view(id: string, withTargets: boolean): DeploymentView | null {
    const r = this.sql.exec<DeploymentRow>("SELECT * FROM roost_deployments WHERE id = ?", id).toArray()[0];
    return r ? this.toView(r, withTargets) : null;
  }

  list(q: DeploymentListQuery): DeploymentView[] {
    const rows = q.roost
      ? this.sql.exec<DeploymentRow>("SELECT * FROM roost_deployments WHERE roost = ? ORDER BY seq DESC LIMIT ?", q.roost, q.limit).toArray()
      : this.sql.exec<DeploymentRow>("SELECT * FROM roost_deployments ORDER BY seq DESC LIMIT ?", q.limit).toArray();
    return rows.map((r) => this.toView(r, false));
  }

  setState(id: string, state: DeploymentState, reason: string | null, now: number): void {
    this.sql.exec("UPDATE roost_deployments SET state = ?, reason = ?, updated_at = ? WHERE id = ?", state, reason, now, id);
  }

  touch(id: string, now: number): void {
    this.sql.exec("UPDATE roost_deployments SET updated_at = ? WHERE id = ?", now, id);
  }

  counts(id: string): DeploymentCounts {
    const counts: DeploymentCounts = { total: 0, pending: 0, waiting: 0, running: 0, done: 0, failed: 0, skipped: 0, canary: 0, canaryDone: 0, canaryFailed: 0 };
    const rows = this.sql.exec<{ wave: string; status: string; n: number }>(
      "SELECT wave, status, COUNT(*) AS n FROM roost_targets WHERE deployment_id = ? GROUP BY wave, status",
      id,
    );
    for (const r of rows) {
      counts.total += r.n;
      counts[r.status as TargetStatus] += r.n;
      if (r.wave === "canary") {
        counts.canary += r.n;
        if (r.status === "done") counts.canaryDone += r.n;
        if (r.status === "failed") counts.canaryFailed += r.n;
      }
    }
    return counts;
  }

  target(deploymentId: string, nodeId: string): TargetView | null {
    const r = this.sql.exec<TargetRow>("SELECT * FROM roost_targets WHERE deployment_id = ? AND node_id = ?", deploymentId, nodeId).toArray()[0];
    return r ? targetView(r) : null;
  }

  /** Targets in `statuses`, in the order they were listed (canary first). */
  targetsIn(deploymentId: string, statuses: readonly TargetStatus[], waves: readonly ("canary" | "rest")[] = ["canary", "rest"]): string[] {
    const s = statuses.map(() => "?").join(", ");
    const w = waves.map(() => "?").join(", ");
    return this.sql
      .exec<{ node_id: string }>(
        `SELECT node_id FROM roost_targets WHERE deployment_id = ? AND status IN (${s}) AND wave IN (${w}) ORDER BY position`,
        deploymentId,
        ...statuses,
        ...waves,
      )
      .toArray()
      .map((r) => r.node_id);
  }

  /** The deployment and node a directive was sent for, if it was sent for one. */
  byDirective(directiveId: string): { deploymentId: string; nodeId: string } | null {
    const r = this.sql
      .exec<{ deployment_id: string; node_id: string }>("SELECT deployment_id, node_id FROM roost_targets WHERE directive_id = ?", directiveId)
      .toArray()[0];
    return r ? { deploymentId: r.deployment_id, nodeId: r.node_id } : null;
  }

  started(deploymentId: string, nodeId: string, directiveId: string, now: number): void {
    this.sql.exec(
      "UPDATE roost_targets SET status = 'running', directive_id = ?, started_at = ?, progress = NULL, error = NULL WHERE deployment_id = ? AND node_id = ?",
      directiveId,
      now,
      deploymentId,
      nodeId,
    );
  }

  setStatus(deploymentId: string, nodeId: string, status: TargetStatus, error: string | null, now: number): void {
    const ended = ["done", "failed", "skipped"].includes(status) ? now : null;
    this.sql.exec(
      "UPDATE roost_targets SET status = ?, error = ?, ended_at = ? WHERE deployment_id = ? AND node_id = ?",
      status,
      error,
      ended,
      deploymentId,
      nodeId,
    );
  }

  setProgress(deploymentId: string, nodeId: string, progress: RoostProgress): boolean {
    return (
      this.sql.exec(
        "UPDATE roost_targets SET progress = ? WHERE deployment_id = ? AND node_id = ? AND status = 'running'",
        JSON.stringify(progress),
        deploymentId,
        nodeId,
      ).rowsWritten > 0
    );
  }

  /** Marks the not-yet-started targets of a deployment skipped; returns the nodes concerned. */
  skipUnstarted(deploymentId: string, why: string, now: number): string[] {
    const nodes = this.targetsIn(deploymentId, ["pending", "waiting"]);
    this.sql.exec(
      "UPDATE roost_targets SET status = 'skipped', error = ?, ended_at = ? WHERE deployment_id = ? AND status IN ('pending', 'waiting')",
      why,
      now,
      deploymentId,
    );
    return nodes;
  }

  /**
   * Earlier deployments of the same roost into the same folder that still wait to start on these nodes: a newer
   * deployment replaces them there, so a machine coming back never gets an older version after a newer one.
   */
  supersededBy(id: string, roost: string, path: string, nodes: readonly string[]): { deploymentId: string; nodeId: string }[] {
    const found: { deploymentId: string; nodeId: string }[] = [];
    const wanted = new Set(nodes);
    const rows = this.sql.exec<{ deployment_id: string; node_id: string }>(
      `SELECT t.deployment_id, t.node_id FROM roost_targets t JOIN roost_deployments d ON d.id = t.deployment_id
       WHERE d.roost = ? AND d.path = ? AND d.id != ? AND t.status IN ('pending', 'waiting')`,
      roost,
      path,
      id,
    );
    for (const r of rows) if (wanted.has(r.node_id)) found.push({ deploymentId: r.deployment_id, nodeId: r.node_id });
    return found;
  }

  /** Deployments with a target waiting for this node to connect, oldest first. */
  waitingOn(nodeId: string): string[] {
    return this.sql
      .exec<{ deployment_id: string }>(
        `SELECT t.deployment_id FROM roost_targets t JOIN roost_deployments d ON d.id = t.deployment_id
         WHERE t.node_id = ? AND t.status = 'waiting' ORDER BY d.seq`,
        nodeId,
      )
      .toArray()
      .map((r) => r.deployment_id);
  }

  /** Whether a deployment that reached this node (running or done) is of a version containing the chunk. */
  nodeHasChunk(nodeId: string, hash: string): boolean {
    return (
      this.sql
        .exec(
          `SELECT 1 FROM roost_version_chunks c
           JOIN roost_deployments d ON d.roost = c.roost AND d.version = c.version
           JOIN roost_targets t ON t.deployment_id = d.id
           WHERE c.hash = ? AND t.node_id = ? AND t.status IN ('running', 'done') LIMIT 1`,
          hash,
          nodeId,
        )
        .toArray().length > 0
    );
  }

  /** Whether a deployment that reached this node (running or done) is of this version. */
  nodeHasVersion(nodeId: string, roost: string, version: number): boolean {
    return (
      this.sql
        .exec(
          `SELECT 1 FROM roost_deployments d JOIN roost_targets t ON t.deployment_id = d.id
           WHERE d.roost = ? AND d.version = ? AND t.node_id = ? AND t.status IN ('running', 'done') LIMIT 1`,
          roost,
          version,
          nodeId,
        )
        .toArray().length > 0
    );
  }

  private toRecord(r: DeploymentRow): DeploymentRecord {
    return {
      id: r.id,
      kind: r.kind as DeploymentKind,
      roost: r.roost,
      version: r.version,
      path: r.path,
      spec: JSON.parse(r.spec) as StoredSpec,
      state: r.state as DeploymentState,
      requestedBy: r.requested_by,
    };
  }

  private toView(r: DeploymentRow, withTargets: boolean): DeploymentView {
    const spec = JSON.parse(r.spec) as StoredSpec;
    const view: DeploymentView = {
      id: r.id,
      kind: r.kind as DeploymentKind,
      roost: r.roost,
      version: r.version,
      path: r.path,
      canaryPercent: spec.canaryPercent,
      promoteAtPercent: spec.promoteAtPercent,
      abortAbovePercent: spec.abortAbovePercent,
      concurrency: spec.concurrency,
      keep: spec.keep,
      after: spec.after ?? null,
      catchUp: spec.catchUp,
      state: r.state as DeploymentState,
      reason: r.reason,
      requestedBy: r.requested_by,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      counts: this.counts(r.id),
    };
    if (withTargets) {
      view.targets = this.sql
        .exec<TargetRow>("SELECT * FROM roost_targets WHERE deployment_id = ? ORDER BY position", r.id)
        .toArray()
        .map(targetView);
    }
    return view;
  }
}
