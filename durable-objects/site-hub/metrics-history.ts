import type { Metrics } from "../../protocol/metrics.ts";
import {
  METRICS_BUCKET_MS,
  METRICS_RETENTION_MS,
  type MetricsHistory,
  type MetricsPoint,
} from "../../protocol/metrics-history.ts";

/** How often, at most, buckets past the retention window are deleted (it runs while heartbeats are recorded). */
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

function bucketOf(at: number): number {
  return at - (at % METRICS_BUCKET_MS);
}

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
 * many heartbeats landed in the minute), kept for the retention window. A site's storage grows with its nodes, not
 * with its heartbeat rate: 1,440 rows per node at most.
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

  /** Deletes every bucket that ended before the retention window; returns how many went. */
  prune(now: number): number {
    this.lastPruneAt = now;
    return this.sql.exec("DELETE FROM metrics_minutes WHERE minute < ?", bucketOf(now - METRICS_RETENTION_MS)).rowsWritten;
  }

  history(nodeId: string, since: number | undefined, now: number): MetricsHistory {
    const from = Math.max(bucketOf(since ?? 0), bucketOf(now - METRICS_RETENTION_MS));
    const rows = this.sql
      .exec<BucketRow>("SELECT * FROM metrics_minutes WHERE node_id = ? AND minute >= ? ORDER BY minute", nodeId, from)
      .toArray();
    return { nodeId, bucketMs: METRICS_BUCKET_MS, retentionMs: METRICS_RETENTION_MS, points: rows.map(toPoint) };
  }
}
