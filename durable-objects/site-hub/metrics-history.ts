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
 * How often, at most, minutes are folded into quarter hours and buckets past their retention are deleted (it runs
 * while heartbeats are recorded, so a site without heartbeats does nothing).
 */
const PRUNE_EVERY_MS = 10 * 60_000;

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

/**
 * Heartbeat metrics folded into one row per node per minute (sums and maxima, so averages come out exact however
 * many heartbeats landed in the minute), kept for a day, and folded again into one row per quarter hour, kept for a
 * week. A site's storage grows with its nodes, not with its heartbeat rate: at most 1,440 + 672 rows per node. The
 * minute under way is not stored: it builds up in the node's socket attachment and is written whole once it is over
 * (see NodeConnections), so the writes are per minute too; readers pass it in as `pending`.
 */
export class MetricsHistoryStore {
  private lastPruneAt = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Stores a node's bucket for a minute that is over (or whose connection ended), adding to a row already there for
   * that minute (the node reconnected within it). Called once per node per minute, not per heartbeat.
   */
  add(nodeId: string, b: MinuteBucket, now: number): void {
    this.sql.exec(
      `INSERT INTO metrics_minutes (node_id, minute, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (node_id, minute) DO UPDATE SET
         samples = samples + excluded.samples,
         cpu_sum = cpu_sum + excluded.cpu_sum, cpu_max = MAX(cpu_max, excluded.cpu_max),
         mem_sum = mem_sum + excluded.mem_sum, mem_max = MAX(mem_max, excluded.mem_max), mem_total = excluded.mem_total,
         disk_used_sum = disk_used_sum + excluded.disk_used_sum, disk_used_max = MAX(disk_used_max, excluded.disk_used_max),
         disk_total = excluded.disk_total,
         gpu_samples = gpu_samples + excluded.gpu_samples, gpu_sum = gpu_sum + excluded.gpu_sum,
         gpu_max = MAX(COALESCE(gpu_max, excluded.gpu_max), COALESCE(excluded.gpu_max, gpu_max)),
         gpu_mem_sum = gpu_mem_sum + excluded.gpu_mem_sum, gpu_mem_total = COALESCE(excluded.gpu_mem_total, gpu_mem_total)`,
      nodeId,
      b.minute,
      b.samples,
      b.cpu_sum,
      b.cpu_max,
      b.mem_sum,
      b.mem_max,
      b.mem_total,
      b.disk_used_sum,
      b.disk_used_max,
      b.disk_total,
      b.gpu_samples,
      b.gpu_sum,
      b.gpu_max,
      b.gpu_mem_sum,
      b.gpu_mem_total,
    );
    if (now - this.lastPruneAt >= PRUNE_EVERY_MS) this.prune(now);
  }

  /**
   * Folds the minutes of every quarter hour that is over into its quarter-hour row, then deletes every bucket that
   * ended before its retention window; returns how many minute buckets went.
   */
  prune(now: number): number {
    this.lastPruneAt = now;
    this.fold(bucketOf(now, METRICS_COARSE_BUCKET_MS));
    this.sql.exec("DELETE FROM metrics_quarters WHERE quarter < ?", bucketOf(now - METRICS_COARSE_RETENTION_MS, METRICS_COARSE_BUCKET_MS));
    return this.sql.exec("DELETE FROM metrics_minutes WHERE minute < ?", bucketOf(now - METRICS_RETENTION_MS)).rowsWritten;
  }

  /** Minutes before this time have been folded into quarter hours (always the start of a quarter). */
  private foldedUpTo(): number {
    return this.sql.exec<{ upto: number }>("SELECT upto FROM metrics_folded WHERE id = 1").toArray()[0]?.upto ?? 0;
  }

  private fold(upTo: number): void {
    const from = this.foldedUpTo();
    if (upTo <= from) return;
    this.sql.exec(
      `INSERT INTO metrics_quarters (node_id, quarter, ${COLUMNS})
       SELECT node_id, minute - minute % ?, ${FOLDED} FROM metrics_minutes WHERE minute >= ? AND minute < ? GROUP BY node_id, minute - minute % ?
       ON CONFLICT (node_id, quarter) DO NOTHING`,
      METRICS_COARSE_BUCKET_MS,
      from,
      upTo,
      METRICS_COARSE_BUCKET_MS,
    );
    this.sql.exec("INSERT INTO metrics_folded (id, upto) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET upto = excluded.upto", upTo);
  }

  /** The stored buckets, and `pending`, the node's minute under way that lives with its socket until it is over. */
  history(nodeId: string, query: Partial<MetricsHistoryQuery>, now: number, pending: MinuteBucket | null = null): MetricsHistory {
    const range = query.range ?? "24h";
    const windowMs = METRICS_RANGES[range];
    if (windowMs > METRICS_RETENTION_MS) return this.coarseHistory(nodeId, query.since, now, range, windowMs, pending);
    const from = Math.max(bucketOf(query.since ?? 0), bucketOf(now - windowMs));
    const rows = this.sql
      .exec<BucketRow>("SELECT * FROM metrics_minutes WHERE node_id = ? AND minute >= ? ORDER BY minute", nodeId, from)
      .toArray();
    const points = withPending(rows, pending, from, METRICS_BUCKET_MS, "latest").map(toPoint);
    return { nodeId, bucketMs: METRICS_BUCKET_MS, retentionMs: METRICS_RETENTION_MS, range, windowMs, points };
  }

  /** Quarter hours: the folded ones, then the minutes not folded yet, grouped the same way on the fly. */
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
    const folded = this.foldedUpTo();
    const rows = this.sql
      .exec<BucketRow>(
        `SELECT quarter AS minute, ${COLUMNS} FROM metrics_quarters WHERE node_id = ? AND quarter >= ? AND quarter < ?
         UNION ALL
         SELECT minute - minute % ? AS minute, ${FOLDED} FROM metrics_minutes WHERE node_id = ? AND minute >= ?
           GROUP BY minute - minute % ?
         ORDER BY minute`,
        nodeId,
        from,
        folded,
        width,
        nodeId,
        Math.max(from, folded),
        width,
      )
      .toArray();
    const points = withPending(rows, pending, from, width, "max").map(toPoint);
    return { nodeId, bucketMs: width, retentionMs: METRICS_COARSE_RETENTION_MS, range, windowMs, points };
  }
}
