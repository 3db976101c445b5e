import { z } from "zod";

/**
 * Per-node metrics history, kept by the site's hub from heartbeats: one bucket per node per minute holding the
 * average and the maximum of what arrived in it, for the last 24 hours.
 */

export const METRICS_BUCKET_MS = 60_000;
export const METRICS_RETENTION_MS = 24 * 3600_000;

export const MetricsHistoryQuery = z.object({
  /** Buckets starting at or after this time (ms since the epoch); defaults to the whole retention window. */
  since: z.coerce.number().int().nonnegative().optional(),
});
export type MetricsHistoryQuery = z.output<typeof MetricsHistoryQuery>;

export const MetricsPoint = z.object({
  /** Start of the bucket (ms since the epoch, a multiple of `bucketMs`). */
  at: z.number().int(),
  samples: z.number().int().positive(),
  cpuAvg: z.number(),
  cpuMax: z.number(),
  memoryAvgMb: z.number(),
  memoryMaxMb: z.number(),
  memoryTotalMb: z.number(),
  diskUsedAvgMb: z.number(),
  diskUsedMaxMb: z.number(),
  diskTotalMb: z.number(),
  /** Mean utilisation across the node's GPUs; null when it reported none in this bucket. */
  gpuAvg: z.number().nullable(),
  gpuMax: z.number().nullable(),
  gpuMemoryAvgMb: z.number().nullable(),
  gpuMemoryTotalMb: z.number().nullable(),
});
export type MetricsPoint = z.infer<typeof MetricsPoint>;

export const MetricsHistory = z.object({
  nodeId: z.string(),
  bucketMs: z.number().int(),
  retentionMs: z.number().int(),
  points: z.array(MetricsPoint),
});
export type MetricsHistory = z.infer<typeof MetricsHistory>;
