/**
 * How the hub keeps metrics history: one bucket per node per minute holding the average and the maximum of what
 * arrived in it, for the last 24 hours, and one per quarter of an hour for the last 7 days (folded from the minutes,
 * so a week costs a site fewer rows than a day).
 */

export const METRICS_BUCKET_MS = 60_000;
export const METRICS_RETENTION_MS = 24 * 3600_000;
export const METRICS_COARSE_BUCKET_MS = 15 * 60_000;
export const METRICS_COARSE_RETENTION_MS = 7 * 24 * 3600_000;

/** The spans a chart can show, and how far back each reaches. 7 days come in quarter-hour buckets, the rest in minutes. */
export const METRICS_RANGES = { "1h": 3600_000, "6h": 6 * 3600_000, "24h": 24 * 3600_000, "7d": 7 * 24 * 3600_000 } as const;
export type MetricsRange = keyof typeof METRICS_RANGES;
