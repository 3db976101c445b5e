import type { Metrics } from "../../protocol/metrics.ts";
import {
  METRICS_BUCKET_MS,
  METRICS_COARSE_BUCKET_MS,
  METRICS_COARSE_RETENTION_MS,
  METRICS_RANGES,
  METRICS_RETENTION_MS,
  type MetricsHistory,
  type MetricsHistoryQuery,
  type MetricsPoint,
} from "../../protocol/metrics-history.ts";

/**
 * The rings a node's history lives in: one slot per minute of the day kept, plus one, so the minute under way never
 * shares a slot with the oldest minute a 24-hour chart still shows; one slot per quarter hour of the week kept (a
 * quarter is folded a day after it ended at the earliest, when the week-old quarter in its slot is out of every
 * window). A slot carries its own minute or quarter, so a stale one is told apart from a current one and overwritten.
 */
export const MINUTE_SLOTS = METRICS_RETENTION_MS / METRICS_BUCKET_MS + 1;
export const QUARTER_SLOTS = METRICS_COARSE_RETENTION_MS / METRICS_COARSE_BUCKET_MS;
const MINUTES_PER_QUARTER = METRICS_COARSE_BUCKET_MS / METRICS_BUCKET_MS;

/** How often, at most, the rows of nodes silent for longer than the week kept are deleted (all of them are stale). */
const FORGET_EVERY_MS = 24 * 3600_000;

function minuteSlot(minute: number): number {
  return Math.floor(minute / METRICS_BUCKET_MS) % MINUTE_SLOTS;
}

function quarterSlot(quarter: number): number {
  return Math.floor(quarter / METRICS_COARSE_BUCKET_MS) % QUARTER_SLOTS;
}

/** A bucket's columns: sums and maxima, so averages come out exact however many samples it holds. */
export interface MinuteBucket {
  minute: number;
  samples: number;
  cpu_sum: number;
  cpu_max: number;
  mem_sum: number;
  mem_max: number;
  mem_total: number;
  disk_used_sum: number;
  disk_used_max: number;
  disk_total: number;
  gpu_samples: number;
  gpu_sum: number;
  gpu_max: number | null;
  gpu_mem_sum: number;
  gpu_mem_total: number | null;
}

type BucketRow = MinuteBucket & Record<string, SqlStorageValue>;

export function bucketOf(at: number, width = METRICS_BUCKET_MS): number {
  return at - (at % width);
}

function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/**
 * Two buckets of the same span as one: sums add up, maxima take the larger; totals (memory, disk, GPU memory) take
 * the later bucket's (`b`), or the larger when `totals` is "max", as quarter hours folded from minutes do.
 */
export function mergedBucket(a: MinuteBucket, b: MinuteBucket, totals: "latest" | "max" = "latest"): MinuteBucket {
  const total = (x: number, y: number) => (totals === "max" ? Math.max(x, y) : y);
  return {
    minute: a.minute,
    samples: a.samples + b.samples,
    cpu_sum: a.cpu_sum + b.cpu_sum,
    cpu_max: Math.max(a.cpu_max, b.cpu_max),
    mem_sum: a.mem_sum + b.mem_sum,
    mem_max: Math.max(a.mem_max, b.mem_max),
    mem_total: total(a.mem_total, b.mem_total),
    disk_used_sum: a.disk_used_sum + b.disk_used_sum,
    disk_used_max: Math.max(a.disk_used_max, b.disk_used_max),
    disk_total: total(a.disk_total, b.disk_total),
    gpu_samples: a.gpu_samples + b.gpu_samples,
    gpu_sum: a.gpu_sum + b.gpu_sum,
    gpu_max: maxOf(a.gpu_max, b.gpu_max),
    gpu_mem_sum: a.gpu_mem_sum + b.gpu_mem_sum,
    gpu_mem_total: totals === "max" ? maxOf(a.gpu_mem_total, b.gpu_mem_total) : (b.gpu_mem_total ?? a.gpu_mem_total),
  };
}

/** One heartbeat's metrics as a bucket of one sample, in the minute of `at`. */
export function sampleBucket(m: Metrics, at: number): MinuteBucket {
  const gpus = m.gpus ?? [];
  const hasGpu = gpus.length > 0;
  const gpuUtil = hasGpu ? gpus.reduce((s, g) => s + g.utilizationPercent, 0) / gpus.length : 0;
  const diskUsed = Math.max(0, m.diskTotalMb - m.diskFreeMb);
  return {
    minute: bucketOf(at),
    samples: 1,
    cpu_sum: m.cpuPercent,
    cpu_max: m.cpuPercent,
    mem_sum: m.memoryMb,
    mem_max: m.memoryMb,
    mem_total: m.memoryTotalMb,
    disk_used_sum: diskUsed,
    disk_used_max: diskUsed,
    disk_total: m.diskTotalMb,
    gpu_samples: hasGpu ? 1 : 0,
    gpu_sum: gpuUtil,
    gpu_max: hasGpu ? gpuUtil : null,
    gpu_mem_sum: gpus.reduce((s, g) => s + g.memoryUsedMb, 0),
    gpu_mem_total: hasGpu ? gpus.reduce((s, g) => s + g.memoryTotalMb, 0) : null,
  };
}

/** Adds a sample to the bucket of its minute; a bucket of another minute must be flushed first. */
export function withSample(bucket: MinuteBucket | null, m: Metrics, at: number): MinuteBucket {
  const sample = sampleBucket(m, at);
  return bucket && bucket.minute === sample.minute ? mergedBucket(bucket, sample) : sample;
}

/** Puts a not-yet-stored bucket into points read from storage (sorted by start), merging with one of the same start. */
function withPending(rows: MinuteBucket[], pending: MinuteBucket | null, from: number, width: number, totals: "latest" | "max"): MinuteBucket[] {
  if (!pending) return rows;
  const at = bucketOf(pending.minute, width);
  if (at < from) return rows;
  const bucket = { ...pending, minute: at };
  const i = rows.findIndex((r) => r.minute >= at);
  if (i === -1) return [...rows, bucket];
  if (rows[i]!.minute === at) return rows.map((r, j) => (j === i ? mergedBucket(r, bucket, totals) : r));
  return [...rows.slice(0, i), bucket, ...rows.slice(i)];
}

/** The columns of a bucket folded from finer ones: sums add up, maxima and totals take the largest. */
const FOLDED = `SUM(samples), SUM(cpu_sum), MAX(cpu_max), SUM(mem_sum), MAX(mem_max), MAX(mem_total),
  SUM(disk_used_sum), MAX(disk_used_max), MAX(disk_total), SUM(gpu_samples), SUM(gpu_sum), MAX(gpu_max),
  SUM(gpu_mem_sum), MAX(gpu_mem_total)`;
const COLUMNS = `samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total, disk_used_sum, disk_used_max, disk_total,
  gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total`;

function toPoint(r: MinuteBucket): MetricsPoint {
  const gpu = r.gpu_samples > 0;
  return {
    at: r.minute,
    samples: r.samples,
    cpuAvg: r.cpu_sum / r.samples,
    cpuMax: r.cpu_max,
    memoryAvgMb: r.mem_sum / r.samples,
    memoryMaxMb: r.mem_max,
    memoryTotalMb: r.mem_total,
    diskUsedAvgMb: r.disk_used_sum / r.samples,
    diskUsedMaxMb: r.disk_used_max,
    diskTotalMb: r.disk_total,
    gpuAvg: gpu ? r.gpu_sum / r.gpu_samples : null,
    gpuMax: gpu ? r.gpu_max : null,
    gpuMemoryAvgMb: gpu ? r.gpu_mem_sum / r.gpu_samples : null,
    gpuMemoryTotalMb: gpu ? r.gpu_mem_total : null,
  };
}

/** `column = excluded.column` for every bucket column: an upsert that replaces a slot's content whole. */
const REPLACED = COLUMNS.split(",")
  .map((c) => `${c.trim()} = excluded.${c.trim()}`)
  .join(", ");

/**
 * Heartbeat metrics folded into one row per node per minute (sums and maxima, so averages come out exact however
 * many heartbeats landed in the minute), kept for a day, and folded again into one row per quarter hour, kept for a
 * week. Both live in per-node rings keyed by (node, slot): storing a minute overwrites the slot of the minute a day
 * before it, so retention costs no DELETE and no secondary index, and a minute costs one row written. A quarter is
 * folded from its node's minute slots (by primary key) when the first of them is about to be overwritten; until then
 * readers group its minutes on the fly. The minute under way is not stored: it builds up in the node's socket
 * attachment and is written whole once it is over (see NodeConnections); readers pass it in as `pending`.
 */
export class MetricsHistoryStore {
  private lastForgetAt = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Stores a node's bucket for a minute that is over (or whose connection ended), adding to what its slot already
   * holds for that minute (the node reconnected within it). Called once per node per minute, not per heartbeat.
   */
  add(nodeId: string, b: MinuteBucket, now: number): void {
    const slot = minuteSlot(b.minute);
    const held = this.sql
      .exec<BucketRow>(`SELECT minute, ${COLUMNS} FROM metrics_minute_slots WHERE node_id = ? AND slot = ?`, nodeId, slot)
      .toArray()[0];
    // A bucket older than the slot's own minute is more than a day old: no 24-hour window shows it any more.
    if (held && held.minute > b.minute) return;
    if (held && held.minute < b.minute) this.foldQuarter(nodeId, bucketOf(held.minute, METRICS_COARSE_BUCKET_MS), now);
    const row = held && held.minute === b.minute ? mergedBucket(held, b) : b;
    this.sql.exec(
      `INSERT INTO metrics_minute_slots (node_id, slot, minute, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (node_id, slot) DO UPDATE SET minute = excluded.minute, ${REPLACED}`,
      nodeId,
      slot,
      row.minute,
      row.samples,
      row.cpu_sum,
      row.cpu_max,
      row.mem_sum,
      row.mem_max,
      row.mem_total,
      row.disk_used_sum,
      row.disk_used_max,
      row.disk_total,
      row.gpu_samples,
      row.gpu_sum,
      row.gpu_max,
      row.gpu_mem_sum,
      row.gpu_mem_total,
    );
    if (now - this.lastForgetAt >= FORGET_EVERY_MS) this.forgetSilent(now);
  }

  /**
   * Folds a node's quarter hour from its minute slots into the quarter's slot, unless that slot holds it (or a later
   * one) already or the quarter is out of the week kept. Runs before the first of its minutes is overwritten, a day
   * after the quarter at the earliest, so every minute of it is there.
   */
  private foldQuarter(nodeId: string, quarter: number, now: number): void {
    if (quarter < bucketOf(now - METRICS_COARSE_RETENTION_MS, METRICS_COARSE_BUCKET_MS)) return;
    const slot = quarterSlot(quarter);
    const held = this.sql
      .exec<{ quarter: number }>("SELECT quarter FROM metrics_quarter_slots WHERE node_id = ? AND slot = ?", nodeId, slot)
      .toArray()[0];
    if (held && held.quarter >= quarter) return;
    const slots = Array.from({ length: MINUTES_PER_QUARTER }, (_, i) => minuteSlot(quarter + i * METRICS_BUCKET_MS));
    this.sql.exec(
      `INSERT INTO metrics_quarter_slots (node_id, slot, quarter, ${COLUMNS})
       SELECT ?, ?, ?, ${FOLDED} FROM metrics_minute_slots
         WHERE node_id = ? AND slot IN (${slots.map(() => "?").join(", ")}) AND minute >= ? AND minute < ?
         HAVING COUNT(*) > 0
       ON CONFLICT (node_id, slot) DO UPDATE SET quarter = excluded.quarter, ${REPLACED}`,
      nodeId,
      slot,
      quarter,
      nodeId,
      ...slots,
      quarter,
      quarter + METRICS_COARSE_BUCKET_MS,
    );
  }

  /**
   * Deletes the history of nodes that sent nothing for longer than the week kept (deregistered or gone): every slot
   * they hold is out of every window, and a ring is never pruned otherwise. Returns how many rows went.
   */
  forgetSilent(now: number): number {
    this.lastForgetAt = now;
    const cutoff = now - METRICS_COARSE_RETENTION_MS - METRICS_COARSE_BUCKET_MS;
    const silent = "SELECT id FROM nodes WHERE last_heartbeat_at < ?";
    return (
      this.sql.exec(`DELETE FROM metrics_minute_slots WHERE node_id IN (${silent})`, cutoff).rowsWritten +
      this.sql.exec(`DELETE FROM metrics_quarter_slots WHERE node_id IN (${silent})`, cutoff).rowsWritten
    );
  }

  /** The stored buckets, and `pending`, the node's minute under way that lives with its socket until it is over. */
  history(nodeId: string, query: Partial<MetricsHistoryQuery>, now: number, pending: MinuteBucket | null = null): MetricsHistory {
    const range = query.range ?? "24h";
    const windowMs = METRICS_RANGES[range];
    if (windowMs > METRICS_RETENTION_MS) return this.coarseHistory(nodeId, query.since, now, range, windowMs, pending);
    const from = Math.max(bucketOf(query.since ?? 0), bucketOf(now - windowMs));
    const rows = this.sql
      .exec<BucketRow>(`SELECT minute, ${COLUMNS} FROM metrics_minute_slots WHERE node_id = ? AND minute >= ? ORDER BY minute`, nodeId, from)
      .toArray();
    const points = withPending(rows, pending, from, METRICS_BUCKET_MS, "latest").map(toPoint);
    return { nodeId, bucketMs: METRICS_BUCKET_MS, retentionMs: METRICS_RETENTION_MS, range, windowMs, points };
  }

  /** Quarter hours: the folded ones, then those not folded yet, grouped from their minutes on the fly. */
  private coarseHistory(
    nodeId: string,
    since: number | undefined,
    now: number,
    range: MetricsHistory["range"],
    windowMs: number,
    pending: MinuteBucket | null,
  ): MetricsHistory {
    const width = METRICS_COARSE_BUCKET_MS;
    const from = Math.max(bucketOf(since ?? 0, width), bucketOf(now - windowMs, width));
    const rows = this.sql
      .exec<BucketRow>(
        `SELECT quarter AS minute, ${COLUMNS} FROM metrics_quarter_slots WHERE node_id = ? AND quarter >= ?
         UNION ALL
         SELECT minute - minute % ? AS minute, ${FOLDED} FROM metrics_minute_slots WHERE node_id = ? AND minute >= ?
           AND minute - minute % ? NOT IN (SELECT quarter FROM metrics_quarter_slots WHERE node_id = ? AND quarter >= ?)
           GROUP BY minute - minute % ?
         ORDER BY minute`,
        nodeId,
        from,
        width,
        nodeId,
        from,
        width,
        nodeId,
        from,
        width,
      )
      .toArray();
    const points = withPending(rows, pending, from, width, "max").map(toPoint);
    return { nodeId, bucketMs: width, retentionMs: METRICS_COARSE_RETENTION_MS, range, windowMs, points };
  }
}
