import type { CpuInfo } from "node:os";

export interface CpuTimes {
  busy: number;
  total: number;
}

/** Busy and total CPU time summed over every core, in the milliseconds os.cpus() reports since boot. */
export function cpuTimes(cpus: readonly CpuInfo[]): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** CPU use between two samples, 0-100 with one decimal; with no earlier sample, the average since boot. */
export function cpuPercent(previous: CpuTimes | undefined, current: CpuTimes): number {
  const total = current.total - (previous?.total ?? 0);
  const busy = current.busy - (previous?.busy ?? 0);
  if (total <= 0) return 0;
  return Math.min(100, Math.max(0, Math.round((busy / total) * 1000) / 10));
}
