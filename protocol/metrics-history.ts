import { z } from "zod";

/**
 * Per-node metrics history, kept by the site's hub from heartbeats: one bucket per node per minute holding the
 * average and the maximum of what arrived in it, for the last 24 hours, and one per quarter of an hour for the
 * last 7 days (folded from the minutes, so a week costs a site fewer rows than a day).
 */

export const METRICS_BUCKET_MS = 60_000;
export const METRICS_RETENTION_MS = 24 * 3600_000;
export const METRICS_COARSE_BUCKET_MS = 15 * 60_000;
export const METRICS_COARSE_RETENTION_MS = 7 * 24 * 3600_000;

/** The spans a chart can show, and how far back each reaches. 7 days come in quarter-hour buckets, the rest in minutes. */
export const METRICS_RANGES = { "1h": 3600_000, "6h": 6 * 3600_000, "24h": 24 * 3600_000, "7d": 7 * 24 * 3600_000 } as const;
export const MetricsRange = z.enum(Object.keys(METRICS_RANGES) as [keyof typeof METRICS_RANGES, ...(keyof typeof METRICS_RANGES)[]]);
export type MetricsRange = z.infer<typeof MetricsRange>;

export const MetricsHistoryQuery = z.object({
  /** How far back to go; 24 hours when absent. */
  range: MetricsRange.default("24h"),
  /** Only buckets starting at or after this time (ms since the epoch), to top up a chart already drawn. */
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
  /** The width of each point: a minute, or a quarter of an hour for 7 days. */
  bucketMs: z.number().int(),
  /** How far back the hub keeps buckets of this width. */
  retentionMs: z.number().int(),
  /** The range asked for, and its span. */
  range: MetricsRange,
  windowMs: z.number().int(),
  points: z.array(MetricsPoint),
});
export type MetricsHistory = z.infer<typeof MetricsHistory>;
