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

interface BucketRow {
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
  [key: string]: SqlStorageValue;
}

function bucketOf(at: number, width = METRICS_BUCKET_MS): number {
  return at - (at % width);
}

/** The columns of a bucket folded from finer ones: sums add up, maxima and totals take the largest. */
const FOLDED = `SUM(samples), SUM(cpu_sum), MAX(cpu_max), SUM(mem_sum), MAX(mem_max), MAX(mem_total),
  SUM(disk_used_sum), MAX(disk_used_max), MAX(disk_total), SUM(gpu_samples), SUM(gpu_sum), MAX(gpu_max),
  SUM(gpu_mem_sum), MAX(gpu_mem_total)`;
const COLUMNS = `samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total, disk_used_sum, disk_used_max, disk_total,
  gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total`;

function toPoint(r: BucketRow): MetricsPoint {
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
 * week. A site's storage grows with its nodes, not with its heartbeat rate: at most 1,440 + 672 rows per node.
 */
export class MetricsHistoryStore {
  private lastPruneAt = 0;

  constructor(private readonly sql: SqlStorage) {}

  record(nodeId: string, m: Metrics, now: number): void {
    const gpus = m.gpus ?? [];
    const hasGpu = gpus.length > 0;
    const gpuUtil = hasGpu ? gpus.reduce((s, g) => s + g.utilizationPercent, 0) / gpus.length : 0;
    const gpuMem = gpus.reduce((s, g) => s + g.memoryUsedMb, 0);
    const gpuTotal = gpus.reduce((s, g) => s + g.memoryTotalMb, 0);
    const diskUsed = Math.max(0, m.diskTotalMb - m.diskFreeMb);
    this.sql.exec(
      `INSERT INTO metrics_minutes (node_id, minute, samples, cpu_sum, cpu_max, mem_sum, mem_max, mem_total,
         disk_used_sum, disk_used_max, disk_total, gpu_samples, gpu_sum, gpu_max, gpu_mem_sum, gpu_mem_total)
       VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (node_id, minute) DO UPDATE SET
         samples = samples + 1,
         cpu_sum = cpu_sum + excluded.cpu_sum, cpu_max = MAX(cpu_max, excluded.cpu_max),
         mem_sum = mem_sum + excluded.mem_sum, mem_max = MAX(mem_max, excluded.mem_max), mem_total = excluded.mem_total,
         disk_used_sum = disk_used_sum + excluded.disk_used_sum, disk_used_max = MAX(disk_used_max, excluded.disk_used_max),
         disk_total = excluded.disk_total,
         gpu_samples = gpu_samples + excluded.gpu_samples, gpu_sum = gpu_sum + excluded.gpu_sum,
         gpu_max = MAX(COALESCE(gpu_max, excluded.gpu_max), COALESCE(excluded.gpu_max, gpu_max)),
         gpu_mem_sum = gpu_mem_sum + excluded.gpu_mem_sum, gpu_mem_total = COALESCE(excluded.gpu_mem_total, gpu_mem_total)`,
      nodeId,
      bucketOf(now),
      m.cpuPercent,
      m.cpuPercent,
      m.memoryMb,
      m.memoryMb,
      m.memoryTotalMb,
      diskUsed,
      diskUsed,
      m.diskTotalMb,
      hasGpu ? 1 : 0,
      gpuUtil,
      hasGpu ? gpuUtil : null,
      gpuMem,
      hasGpu ? gpuTotal : null,
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

  history(nodeId: string, query: Partial<MetricsHistoryQuery>, now: number): MetricsHistory {
    const range = query.range ?? "24h";
    const windowMs = METRICS_RANGES[range];
    if (windowMs > METRICS_RETENTION_MS) return this.coarseHistory(nodeId, query.since, now, range, windowMs);
    const from = Math.max(bucketOf(query.since ?? 0), bucketOf(now - windowMs));
    const rows = this.sql
      .exec<BucketRow>("SELECT * FROM metrics_minutes WHERE node_id = ? AND minute >= ? ORDER BY minute", nodeId, from)
      .toArray();
    return { nodeId, bucketMs: METRICS_BUCKET_MS, retentionMs: METRICS_RETENTION_MS, range, windowMs, points: rows.map(toPoint) };
  }

  /** Quarter hours: the folded ones, then the minutes not folded yet, grouped the same way on the fly. */
  private coarseHistory(nodeId: string, since: number | undefined, now: number, range: MetricsHistory["range"], windowMs: number): MetricsHistory {
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
    return { nodeId, bucketMs: width, retentionMs: METRICS_COARSE_RETENTION_MS, range, windowMs, points: rows.map(toPoint) };
  }
}
