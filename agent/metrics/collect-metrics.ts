import os from "node:os";
import { statfs } from "node:fs/promises";
import { Metrics, type GpuMetrics } from "../../protocol/metrics.ts";
import { cpuPercent, cpuTimes, type CpuTimes } from "./cpu-usage.ts";
import { gpuProbe } from "./nvidia-smi.ts";

const MB = 1024 * 1024;

export type CollectMetrics = (activeDirectives: number) => Promise<Metrics>;

/** A collector keeps the previous CPU sample, so each reading covers the time since the one before. */
export function createMetricsCollector(gpus: () => Promise<GpuMetrics[] | undefined> = gpuProbe()): CollectMetrics {
  let previous: CpuTimes | undefined;
  return async (activeDirectives) => {
    const cpus = os.cpus();
    const times = cpuTimes(cpus);
    const cpu = cpuPercent(previous, times);
    previous = times;
    const [disk, gpuList] = await Promise.all([statfs("/"), gpus()]);
    const [load1, load5, load15] = os.loadavg();
    return Metrics.parse({
      cpuPercent: cpu,
      memoryMb: Math.round((os.totalmem() - os.freemem()) / MB),
      memoryTotalMb: Math.round(os.totalmem() / MB),
      // bavail, not bfree: the space the agent's own user can still write, without the root-reserved blocks.
      diskFreeMb: Math.round((disk.bavail * disk.bsize) / MB),
      diskTotalMb: Math.round((disk.blocks * disk.bsize) / MB),
      activeDirectives,
      uptimeSeconds: Math.round(os.uptime()),
      loadAverage: [load1, load5, load15],
      ...(cpus.length > 0 ? { cpuCount: cpus.length } : {}),
      ...(gpuList === undefined ? {} : { gpus: gpuList }),
    });
  };
}

export const collectMetrics: CollectMetrics = createMetricsCollector();
