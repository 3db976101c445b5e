import * as z from "zod";
import { METRICS_RANGES } from "./metrics-ranges.ts";

/**
 * Per-node metrics history, kept by the site's hub from heartbeats (the spans and bucket widths are in
 * metrics-ranges.ts, which the dashboard reads without zod).
 */

export * from "./metrics-ranges.ts";
type RangeName = keyof typeof METRICS_RANGES;
export const MetricsRange = z.enum(Object.keys(METRICS_RANGES) as [RangeName, ...RangeName[]]);
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
