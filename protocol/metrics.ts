import * as z from "zod";

const nonNegative = z.number().finite().nonnegative();

export const GpuMetrics = z.object({
  name: z.string().max(200),
  utilizationPercent: nonNegative.max(100),
  memoryUsedMb: nonNegative,
  memoryTotalMb: nonNegative,
  temperatureC: z.number().finite().optional(),
});
export type GpuMetrics = z.infer<typeof GpuMetrics>;

/**
 * Live machine metrics carried by heartbeats. The first seven fields are what agents in the field send;
 * everything after them is optional so an agent that sends only those still works.
 */
export const Metrics = z.object({
  cpuPercent: nonNegative.max(100),
  memoryMb: nonNegative,
  memoryTotalMb: nonNegative,
  diskFreeMb: nonNegative,
  diskTotalMb: nonNegative,
  activeDirectives: z.number().int().nonnegative(),
  uptimeSeconds: nonNegative,
  loadAverage: z.array(nonNegative).length(3).optional(),
  cpuCount: z.number().int().positive().optional(),
  gpus: z.array(GpuMetrics).max(64).optional(),
});
export type Metrics = z.infer<typeof Metrics>;
