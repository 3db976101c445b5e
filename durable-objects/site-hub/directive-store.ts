import { LateResult, type DirectiveListQuery, type DirectiveView, type FanOutAggregate, type RunRecord } from "../../protocol/api.ts";
import { jsonRowBatches } from "../shared/json-row-batches.ts";
import { MAX_CHUNK_BYTES, MAX_STORED_CHUNKS, MAX_STORED_OUTPUT_BYTES } from "../../protocol/limits.ts";
import { ResultData, type ActionName, type DirectiveStatus, type ErrorCode } from "../../protocol/directives.ts";

const utf8 = new TextEncoder();
/** Room for any stream chunk in UTF-8: at most MAX_CHUNK_BYTES UTF-16 units, 3 bytes each at most. */
const scratch = new Uint8Array(MAX_CHUNK_BYTES * 3);

/** A text's size in UTF-8, without allocating a copy of it for each of a stream's chunks. */
function utf8Length(text: string): number {
  return text.length * 3 <= scratch.length ? utf8.encodeInto(text, scratch).written : utf8.encode(text).byteLength;
}

/**
 * The `directives` and `fanouts` tables: every directive ever asked for, with its outcome. A directive's row without
 * its output is what a record costs to read when its output is not asked for.
 */
interface RecordRow {
  seq: number;
  id: string;
  fanout_id: string | null;
  node_id: string;
  action: string;
  params: string;
  status: string;
  requested_by: string;
  created_at: number;
  sent_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  timeout_ms: number;
  deadline_at: number | null;
  exit_code: number | null;
  signal: string | null;
  output_bytes: number;
  chunks_received: number;
  truncated: number;
  error: string | null;
  error_code: string | null;
  data: string | null;
  requested_by_user: string | null;
  confine_to: string | null;
  late_result: string | null;
  [key: string]: SqlStorageValue;
}

interface DirectiveRow extends RecordRow {
  output: string | null;
  pending_result: string | null;
}

/**
 * The columns of a `RecordRow`, for reads that do not show output. A row's output, its pending result, a late
 * result's output and an image's bytes hold up to a MiB each, written by the node, so a list of 500 read whole made
 * the object build hundreds of MB of strings it then dropped: the late result comes without its output (empty), an
 * image without its bytes (empty), as a list shows neither; one directive read with its output has them.
 */
const RECORD_COLUMNS =
  "seq, id, fanout_id, node_id, action, params, status, requested_by, created_at, sent_at, started_at, ended_at, timeout_ms, deadline_at, " +
  "exit_code, signal, output_bytes, chunks_received, truncated, error, error_code, requested_by_user, confine_to, " +
  "CASE WHEN json_extract(data, '$.kind') = 'image' THEN json_set(data, '$.base64', '') ELSE data END AS data, " +
  "json_set(late_result, '$.output', '') AS late_result";

export interface DirectiveRecord {
  view: DirectiveView;
  /** The params whole, as requested and sent to the agent (the view shortens long ones). */
  params: Record<string, unknown>;
  seq: number;
  /** The person who asked for it; null for the bootstrap admin key. */
  requestedByUser: string | null;
  /** The folders it was confined to (its requester could only read), or null when it was not confined. */
  confineTo: string[] | null;
}

/** Long string params (file contents) are shortened in views; the stored row keeps them whole. */
const VIEW_PARAM_CHARS = 2_048;

export function paramsForView(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) =>
      typeof v === "string" && v.length > VIEW_PARAM_CHARS ? [k, `${v.slice(0, VIEW_PARAM_CHARS)}… (${v.length} characters)`] : [k, v],
    ),
  );
}

function toRecord(row: RecordRow, output: string | null): DirectiveRecord {
  const data = row.data ? ResultData.safeParse(JSON.parse(row.data)) : null;
  const late = row.late_result ? LateResult.safeParse(JSON.parse(row.late_result)) : null;
  const params = JSON.parse(row.params) as Record<string, unknown>;
  return {
    seq: row.seq,
    params,
    requestedByUser: row.requested_by_user,
    confineTo: row.confine_to ? (JSON.parse(row.confine_to) as string[]) : null,
    view: {
      id: row.id,
      fanoutId: row.fanout_id,
      nodeId: row.node_id,
      action: row.action as ActionName,
      params: paramsForView(params),
      status: row.status as DirectiveStatus,
      requestedBy: row.requested_by,
      createdAt: row.created_at,
      sentAt: row.sent_at,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      timeoutMs: row.timeout_ms,
      exitCode: row.exit_code,
      signal: row.signal,
      outputBytes: row.output_bytes,
      output,
      outputWithheld: false,
      truncated: row.truncated === 1,
      error: row.error,
      errorCode: row.error_code as ErrorCode | null,
      data: data?.success ? data.data : null,
      lateResult: late?.success ? late.data : null,
    },
  };
}

export interface NewDirective {
  id: string;
  fanoutId: string | null;
  nodeId: string;
  action: ActionName;
  params: Record<string, unknown>;
  status: DirectiveStatus;
  requestedBy: string;
  requestedByUser: string | null;
  confineTo: string[] | null;
  timeoutMs: number;
  error?: string;
  errorCode?: ErrorCode;
}

/** A fan-out as asked for: who, what (already redacted for the log), on how many nodes, and how many were offline. */
export interface FanOutRecord {
  fanoutId: string;
  actor: string;
  action: ActionName;
  what: string;
  total: number;
  skippedOffline: number;
}

export interface Outcome {
  status: DirectiveStatus;
  exitCode?: number | null;
  signal?: string | null;
  output?: string;
  truncated?: boolean;
  error?: string | null;
  errorCode?: ErrorCode | null;
  data?: unknown;
}

/** A result held back until the chunks it says were sent have arrived. */
export type DeferredOutcome = Outcome & { chunks: number };

/**
 * A directive as the messages of one frame see it: read once, changed in memory as its chunks land, and written back
 * with one update (`flushChunks`) however many chunks the frame carried.
 */
export interface ChunkTarget {
  id: string;
  nodeId: string;
  fanoutId: string | null;
  status: DirectiveStatus;
  outputBytes: number;
  chunksReceived: number;
  pending: DeferredOutcome | null;
  /** Not yet written: chunks counted, their bytes, whether one was past the caps, when the node said it started. */
  unwritten: { chunks: number; bytes: number; cut: boolean; startedAt: number | null };
}

const IN_FLIGHT = "('sent', 'running')";

/** A new directive's row, as one JSON array for `insertMany`. */
function directiveRow(d: NewDirective, now: number): string {
  const terminal = !["queued", "sent", "running"].includes(d.status);
  return JSON.stringify([
    d.id,
    d.fanoutId,
    d.nodeId,
    d.action,
    JSON.stringify(d.params),
    d.status,
    d.requestedBy,
    d.requestedByUser,
    d.confineTo ? JSON.stringify(d.confineTo) : null,
    d.timeoutMs,
    terminal ? now : null,
    d.error ?? null,
    d.errorCode ?? null,
  ]);
}

export class DirectiveStore {
  constructor(private readonly sql: SqlStorage) {}

  /**
   * Records new directives, however many: their rows travel as JSON arrays (`jsonRowBatches`), as few as their size
   * allows, since a statement takes at most 100 bound values and a fan-out has a row per member.
   */
  insertMany(directives: readonly NewDirective[], now: number): void {
    for (const rows of jsonRowBatches(directives.map((d) => directiveRow(d, now)))) {
      this.sql.exec(
        `INSERT INTO directives (id, fanout_id, node_id, action, params, status, requested_by, requested_by_user, confine_to, created_at, timeout_ms,
           ended_at, error, error_code)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, ?, value ->> 9,
           value ->> 10, value ->> 11, value ->> 12
         FROM json_each(?) ORDER BY key`,
        now,
        rows,
      );
    }
  }

  /**
   * Records one directive and returns it as stored, in one statement. `sentAt` records it as sent at that time, due
   * by its time limit from then: for a directive sent in the same turn, so that no other turn ever sees it otherwise.
   */
  insertOne(d: NewDirective, now: number, sentAt: number | null): DirectiveRecord {
    const terminal = !["queued", "sent", "running"].includes(d.status);
    const row = this.sql
      .exec<DirectiveRow>(
        `INSERT INTO directives (id, fanout_id, node_id, action, params, status, requested_by, requested_by_user, confine_to, created_at, timeout_ms,
           sent_at, deadline_at, ended_at, error, error_code)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        d.id,
        d.fanoutId,
        d.nodeId,
        d.action,
        JSON.stringify(d.params),
        sentAt === null ? d.status : "sent",
        d.requestedBy,
        d.requestedByUser,
        d.confineTo ? JSON.stringify(d.confineTo) : null,
        now,
        d.timeoutMs,
        sentAt,
        sentAt === null ? null : sentAt + d.timeoutMs,
        terminal ? now : null,
        d.error ?? null,
        d.errorCode ?? null,
      )
      .one();
    return toRecord(row, this.outputOf(row));
  }

  /**
   * Ends a directive that `insertOne` recorded as sent in this turn but that could not be given to its node: failed
   * as offline, with no time sent, as if it had never been recorded otherwise.
   */
  unsent(id: string, error: string, now: number): DirectiveRecord {
    const row = this.sql
      .exec<DirectiveRow>(
        "UPDATE directives SET status = 'failed', sent_at = NULL, deadline_at = NULL, ended_at = ?, error = ?, error_code = 'offline' WHERE id = ? RETURNING *",
        now,
        error,
        id,
      )
      .one();
    return toRecord(row, this.outputOf(row));
  }

  get(id: string, withOutput = true): DirectiveRecord | null {
    if (!withOutput) {
      const row = this.sql.exec<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM directives WHERE id = ?`, id).toArray()[0];
      return row ? toRecord(row, null) : null;
    }
    const row = this.sql.exec<DirectiveRow>("SELECT * FROM directives WHERE id = ?", id).toArray()[0];
    return row ? toRecord(row, this.outputOf(row)) : null;
  }

  /** Directives by id with their params exactly as requested (for sending), in one read; unknown ids are left out. */
  getMany(ids: readonly string[], withOutput = false): DirectiveRecord[] {
    if (ids.length === 0) return [];
    const query = (columns: string) => `SELECT ${columns} FROM directives WHERE id IN (SELECT value FROM json_each(?))`;
    // Sorted here: ORDER BY in the query would have it walk every directive in seq order instead of looking ids up.
    const bySeq = (x: RecordRow, y: RecordRow) => x.seq - y.seq;
    if (!withOutput) return this.sql.exec<RecordRow>(query(RECORD_COLUMNS), JSON.stringify(ids)).toArray().sort(bySeq).map((row) => toRecord(row, null));
    return this.sql.exec<DirectiveRow>(query("*"), JSON.stringify(ids)).toArray().sort(bySeq).map((row) => toRecord(row, this.outputOf(row)));
  }

  /** Streamed output is assembled from its chunks in order; a directive that streamed nothing keeps the result's. */
  private outputOf(row: DirectiveRow): string {
    if (row.chunks_received === 0) return row.output ?? "";
    return this.sql
      .exec<{ chunk: string }>("SELECT chunk FROM directive_chunks WHERE directive_id = ? ORDER BY seq", row.id)
      .toArray()
      .map((r) => r.chunk)
      .join("");
  }

  /** The node a directive was sent to, so a node can only ever report on its own directives. */
  nodeOf(id: string): string | null {
    return this.sql.exec<{ node_id: string }>("SELECT node_id FROM directives WHERE id = ?", id).toArray()[0]?.node_id ?? null;
  }

  /** What a run report needs to know about the directive it names: whose it is, its action, the run it started. */
  launchOf(id: string): { nodeId: string; action: ActionName; runId: string | null } | null {
    const row = this.sql.exec<{ node_id: string; action: string; data: string | null }>("SELECT node_id, action, data FROM directives WHERE id = ?", id).toArray()[0];
    if (!row) return null;
    const data = row.data ? ResultData.safeParse(JSON.parse(row.data)) : null;
    const runId = data?.success && data.data.kind === "run" ? data.data.runId : null;
    return { nodeId: row.node_id, action: row.action as ActionName, runId };
  }

  /** The run already reported for a launch directive, if any. */
  runOfDirective(nodeId: string, directiveId: string): string | null {
    return (
      this.sql.exec<{ run_id: string }>("SELECT run_id FROM runs WHERE node_id = ? AND directive_id = ? LIMIT 1", nodeId, directiveId).toArray()[0]?.run_id ?? null
    );
  }

  fanoutOf(id: string): string | null {
    return this.sql.exec<{ fanout_id: string | null }>("SELECT fanout_id FROM directives WHERE id = ?", id).toArray()[0]?.fanout_id ?? null;
  }

  list(q: DirectiveListQuery): { records: DirectiveRecord[]; nextBefore: number | null } {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.node) (where.push("node_id = ?"), args.push(q.node));
    if (q.status) (where.push("status = ?"), args.push(q.status));
    if (q.action) (where.push("action = ?"), args.push(q.action));
    if (q.fanout) (where.push("fanout_id = ?"), args.push(q.fanout));
    if (q.before !== undefined) (where.push("seq < ?"), args.push(q.before));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.sql
      .exec<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM directives ${clause} ORDER BY seq DESC LIMIT ?`, ...args, q.limit + 1)
      .toArray();
    const page = rows.slice(0, q.limit).map((r) => toRecord(r, null));
    return { records: page, nextBefore: rows.length > q.limit ? page[page.length - 1]!.seq : null };
  }

  /**
   * Marks queued directives sent, each due by its own time limit from now, in one statement. `+status` keeps the
   * planner on the id index: by the status index it would walk every queued directive of the site.
   */
  markSent(ids: readonly string[], now: number): void {
    if (ids.length === 0) return;
    this.sql.exec(
      "UPDATE directives SET status = 'sent', sent_at = ?, deadline_at = ? + timeout_ms WHERE id IN (SELECT value FROM json_each(?)) AND +status = 'queued'",
      now,
      now,
      JSON.stringify(ids),
    );
  }

  /** Everything the messages of one frame need to know about their directive, read once per frame. */
  chunkTarget(id: string): ChunkTarget | null {
    const row = this.sql
      .exec<{ node_id: string; fanout_id: string | null; status: string; output_bytes: number; chunks_received: number; pending_result: string | null }>(
        "SELECT node_id, fanout_id, status, output_bytes, chunks_received, pending_result FROM directives WHERE id = ?",
        id,
      )
      .toArray()[0];
    if (!row) return null;
    return {
      id,
      nodeId: row.node_id,
      fanoutId: row.fanout_id,
      status: row.status as DirectiveStatus,
      outputBytes: row.output_bytes,
      chunksReceived: row.chunks_received,
      pending: row.pending_result ? (JSON.parse(row.pending_result) as DeferredOutcome) : null,
      unwritten: { chunks: 0, bytes: 0, cut: false, startedAt: null },
    };
  }

  /**
   * Marks a sent directive running in memory; `flushChunks` (or `finish`) writes it. False if it was not waiting to
   * start.
   */
  startInMemory(target: ChunkTarget, now: number): boolean {
    if (target.status !== "sent") return false;
    target.status = "running";
    target.unwritten.startedAt = now;
    return true;
  }

  /**
   * Takes a streamed chunk. Chunks are keyed by sequence number, so a repeat is ignored and one that arrives out
   * of order still lands in place. Past the stored caps (bytes, and rows per directive) a chunk is counted but
   * not kept, and the directive is marked truncated: whatever a node sends, one directive costs at most
   * MAX_STORED_OUTPUT_BYTES of text in MAX_STORED_CHUNKS rows. The chunk's row is written at once; the counters
   * change in `target` and are written by `flushChunks`, once per frame. Returns whether it was new.
   */
  appendChunk(target: ChunkTarget, seq: number, chunk: string): boolean {
    if (target.status !== "sent" && target.status !== "running") return false;
    const bytes = utf8Length(chunk);
    const keep = target.outputBytes + bytes <= MAX_STORED_OUTPUT_BYTES && target.chunksReceived < MAX_STORED_CHUNKS;
    if (keep && this.sql.exec("INSERT OR IGNORE INTO directive_chunks (directive_id, seq, chunk) VALUES (?, ?, ?)", target.id, seq, chunk).rowsWritten === 0) {
      return false;
    }
    target.chunksReceived += 1;
    target.outputBytes += bytes;
    target.unwritten.chunks += 1;
    target.unwritten.bytes += bytes;
    if (!keep) target.unwritten.cut = true;
    return true;
  }

  /**
   * Writes what `appendChunk` and `startInMemory` changed in memory: one row update, or nothing. The status column
   * is indexed and naming it in an update rewrites its index entry, so only a start names it.
   */
  flushChunks(target: ChunkTarget): void {
    const u = target.unwritten;
    const counters = "chunks_received = chunks_received + ?, output_bytes = output_bytes + ?, truncated = MAX(truncated, ?)";
    if (u.startedAt !== null) {
      this.sql.exec(`UPDATE directives SET status = 'running', started_at = ?, ${counters} WHERE id = ?`, u.startedAt, u.chunks, u.bytes, u.cut ? 1 : 0, target.id);
    } else if (u.chunks > 0) {
      this.sql.exec(`UPDATE directives SET ${counters} WHERE id = ?`, u.chunks, u.bytes, u.cut ? 1 : 0, target.id);
    }
    target.unwritten = { chunks: 0, bytes: 0, cut: false, startedAt: null };
  }

  /** A result that arrived before all of its chunks: kept aside until they land or the grace period ends. */
  deferResult(id: string, result: DeferredOutcome, until: number): void {
    this.sql.exec("UPDATE directives SET pending_result = ?, deadline_at = ? WHERE id = ?", JSON.stringify(result), until, id);
  }

  /** The deferred result of a directive and how many chunks have arrived, if it has one. */
  deferredResult(id: string): { result: DeferredOutcome; received: number } | null {
    const row = this.sql
      .exec<{ pending_result: string | null; chunks_received: number }>("SELECT pending_result, chunks_received FROM directives WHERE id = ?", id)
      .toArray()[0];
    if (!row?.pending_result) return null;
    return { result: JSON.parse(row.pending_result) as DeferredOutcome, received: row.chunks_received };
  }

  chunksReceived(id: string): number {
    return this.sql.exec<{ n: number }>("SELECT chunks_received AS n FROM directives WHERE id = ?", id).toArray()[0]?.n ?? 0;
  }

  /**
   * Records the end of a directive unless it already ended: one statement, which returns the ended row (null when it
   * had ended before). `startedAt` is when the node said it started, when that is not written yet (an ack in the same
   * frame as the result).
   */
  finish(id: string, outcome: Outcome, now: number, startedAt: number | null = null): DirectiveRecord | null {
    // The result's own output counts only for a directive that streamed nothing; a streamed one is its chunks.
    // `+status`: found by its id, not by walking every directive in flight through the status index.
    const output = outcome.output ?? null;
    const outputBytes = output === null ? 0 : utf8Length(output);
    const row = this.sql
      .exec<DirectiveRow>(
        `UPDATE directives SET status = ?, ended_at = ?, deadline_at = NULL, pending_result = NULL, started_at = COALESCE(started_at, ?), exit_code = ?, signal = ?, error = ?,
           error_code = ?, data = ?, truncated = MAX(truncated, ?),
           output = CASE WHEN chunks_received = 0 AND ? IS NOT NULL THEN ? ELSE output END,
           output_bytes = CASE WHEN chunks_received = 0 AND ? IS NOT NULL THEN ? ELSE output_bytes END
         WHERE id = ? AND +status IN ('queued', 'sent', 'running') RETURNING *`,
        outcome.status,
        now,
        startedAt,
        outcome.exitCode ?? null,
        outcome.signal ?? null,
        outcome.error ?? null,
        outcome.errorCode ?? null,
        outcome.data === undefined ? null : JSON.stringify(outcome.data),
        outcome.truncated ? 1 : 0,
        output,
        output,
        output,
        outputBytes,
        id,
      )
      .toArray()[0];
    return row ? toRecord(row, this.outputOf(row)) : null;
  }

  /**
   * Keeps the result of a directive already given up as lost, beside it: the first one only, its output bounded like
   * any directive's. False when the directive is not lost or already has one.
   */
  recordLateResult(id: string, late: LateResult): boolean {
    const bytes = new TextEncoder().encode(late.output);
    const kept = bytes.byteLength <= MAX_STORED_OUTPUT_BYTES ? late : { ...late, output: new TextDecoder().decode(bytes.subarray(0, MAX_STORED_OUTPUT_BYTES)).replace(/\uFFFD$/, ""), truncated: true };
    const cursor = this.sql.exec("UPDATE directives SET late_result = ? WHERE id = ? AND status = 'lost' AND late_result IS NULL", JSON.stringify(kept), id);
    return cursor.rowsWritten > 0;
  }

  /** Directives in flight on a node, to be declared lost when it drops. */
  inFlightOn(nodeId: string): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM directives WHERE node_id = ? AND status IN ${IN_FLIGHT}`, nodeId)
      .toArray()
      .map((r) => r.id);
  }

  overdue(now: number): string[] {
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM directives WHERE status IN ${IN_FLIGHT} AND deadline_at <= ?`, now)
      .toArray()
      .map((r) => r.id);
  }

  nextDeadline(): number | null {
    return this.sql.exec<{ d: number | null }>(`SELECT MIN(deadline_at) AS d FROM directives WHERE status IN ${IN_FLIGHT}`).one().d;
  }

  // ---- fan-outs ----

  insertFanOut(f: FanOutRecord, concurrency: number, now: number): void {
    this.sql.exec(
      "INSERT INTO fanouts (id, created_at, requested_by, concurrency, total, skipped_offline, action, what) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      f.fanoutId,
      now,
      f.actor,
      concurrency,
      f.total,
      f.skippedOffline,
      f.action,
      f.what,
    );
  }

  fanOut(id: string): FanOutRecord | null {
    const row = this.sql
      .exec<{ requested_by: string; total: number; skipped_offline: number; action: string | null; what: string | null }>(
        "SELECT requested_by, total, skipped_offline, action, what FROM fanouts WHERE id = ?",
        id,
      )
      .toArray()[0];
    if (!row) return null;
    // Fan-outs from before these columns existed name their action through a member.
    const action = (row.action ?? this.sql.exec<{ action: string }>("SELECT action FROM directives WHERE fanout_id = ? LIMIT 1", id).toArray()[0]?.action ?? "bash") as ActionName;
    return { fanoutId: id, actor: row.requested_by, total: row.total, skippedOffline: row.skipped_offline, action, what: row.what ?? "" };
  }

  fanOutExists(id: string): boolean {
    return this.sql.exec("SELECT 1 FROM fanouts WHERE id = ?", id).toArray().length > 0;
  }

  /** Queued members of a fan-out that may start now without exceeding its concurrency; asked after every member's result. */
  nextQueued(fanoutId: string): DirectiveRecord[] {
    // One statement however many slots freed: the room left under the concurrency, and that many queued rows whole,
    // in seq order straight off the (fanout_id, status) index (seq is its rowid), so sending reads nothing again.
    return this.sql
      .exec<RecordRow>(
        `SELECT ${RECORD_COLUMNS} FROM directives WHERE fanout_id = ?1 AND status = 'queued' ORDER BY seq
         LIMIT MAX(0, COALESCE((SELECT concurrency FROM fanouts WHERE id = ?1), 0)
           - (SELECT COUNT(*) FROM directives WHERE fanout_id = ?1 AND status IN ${IN_FLIGHT}))`,
        fanoutId,
      )
      .toArray()
      .map((row) => toRecord(row, null));
  }

  /** Whether a fan-out still has a member queued or in flight: one index probe, not a count of its members. */
  hasPending(fanoutId: string): boolean {
    return this.sql.exec("SELECT 1 FROM directives WHERE fanout_id = ? AND status IN ('queued', 'sent', 'running') LIMIT 1", fanoutId).toArray().length > 0;
  }

  memberIds(fanoutId: string, statuses: readonly DirectiveStatus[]): string[] {
    const marks = statuses.map(() => "?").join(", ");
    return this.sql
      .exec<{ id: string }>(`SELECT id FROM directives WHERE fanout_id = ? AND status IN (${marks}) ORDER BY seq`, fanoutId, ...statuses)
      .toArray()
      .map((r) => r.id);
  }

  aggregate(fanoutId: string): FanOutAggregate & { pending: number } {
    const rows = this.sql
      .exec<{ status: string; error_code: string | null; n: number }>(
        "SELECT status, error_code, COUNT(*) AS n FROM directives WHERE fanout_id = ? GROUP BY status, error_code",
        fanoutId,
      )
      .toArray();
    const skippedOffline = this.sql.exec<{ n: number }>("SELECT skipped_offline AS n FROM fanouts WHERE id = ?", fanoutId).toArray()[0]?.n ?? 0;
    const agg = { fanoutId, total: 0, succeeded: 0, failed: 0, offline: 0, refused: 0, cancelled: 0, timedOut: 0, lost: 0, skippedOffline, pending: 0 };
    for (const r of rows) {
      agg.total += r.n;
      if (r.status === "done") agg.succeeded += r.n;
      else if (r.status === "failed" && r.error_code === "offline") agg.offline += r.n;
      else if (r.status === "failed") agg.failed += r.n;
      else if (r.status === "refused") agg.refused += r.n;
      else if (r.status === "cancelled") agg.cancelled += r.n;
      else if (r.status === "timed_out") agg.timedOut += r.n;
      else if (r.status === "lost") agg.lost += r.n;
      else agg.pending += r.n;
    }
    return agg;
  }

  // ---- long runs ----

  /** The launch of a run on a node and its reported end, whichever the hub has; null when it knows neither. */
  runRecord(nodeId: string, runId: string): RunRecord | null {
    const launch = this.sql
      .exec<{ id: string; requested_by: string; created_at: number }>(
        "SELECT id, requested_by, created_at FROM directives WHERE node_id = ? AND action = 'run.launch' AND json_extract(data, '$.runId') = ? ORDER BY seq DESC LIMIT 1",
        nodeId,
        runId,
      )
      .toArray()[0];
    const end = this.sql
      .exec<{ directive_id: string; state: string; exit_code: number | null; reason: string | null; output_tail: string; started_at: number; ended_at: number; reported_at: number }>(
        "SELECT * FROM runs WHERE node_id = ? AND run_id = ?",
        nodeId,
        runId,
      )
      .toArray()[0];
    if (!launch && !end) return null;
    return {
      runId,
      nodeId,
      directiveId: launch?.id ?? end?.directive_id ?? null,
      launchedBy: launch?.requested_by ?? null,
      launchedAt: launch?.created_at ?? null,
      ended: end
        ? {
            state: end.state as NonNullable<RunRecord["ended"]>["state"],
            exitCode: end.exit_code,
            reason: end.reason,
            outputTail: end.output_tail,
            startedAt: end.started_at,
            endedAt: end.ended_at,
            reportedAt: end.reported_at,
          }
        : null,
    };
  }

  /** Records a finished long run once; a repeat report of the same run returns false. */
  recordRun(run: {
    runId: string;
    nodeId: string;
    directiveId: string;
    state: string;
    exitCode: number | null;
    reason: string | null;
    outputTail: string;
    startedAt: number;
    endedAt: number;
  }, now: number): boolean {
    return (
      this.sql.exec(
        `INSERT OR IGNORE INTO runs (run_id, node_id, directive_id, state, exit_code, reason, output_tail, started_at, ended_at, reported_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        run.runId,
        run.nodeId,
        run.directiveId,
        run.state,
        run.exitCode,
        run.reason,
        run.outputTail,
        run.startedAt,
        run.endedAt,
        now,
      ).rowsWritten > 0
    );
  }
}
