import { execFile } from "node:child_process";
import { GpuMetrics } from "../../protocol/metrics.ts";

export const NVIDIA_SMI_QUERY_ARGS = [
  "--query-gpu=name,utilization.gpu,memory.used,memory.total,temperature.gpu",
  "--format=csv,noheader,nounits",
];
export const NVIDIA_SMI_TIMEOUT_MS = 5_000;
const MAX_GPUS = 64;
const MAX_NAME_CHARS = 200;

export type RunCommand = (file: string, args: readonly string[]) => Promise<string>;

/**
 * One GPU per line of `nvidia-smi --format=csv,noheader,nounits`. The four numbers are taken from the end so a comma
 * in a product name cannot shift them; a field the card does not report ("[N/A]", "[Not Supported]") reads as 0,
 * or is left out for the temperature.
 */
export function parseNvidiaSmi(output: string): GpuMetrics[] {
  const gpus: GpuMetrics[] = [];
  for (const line of output.split("\n")) {
    const fields = line.split(",").map((field) => field.trim());
    if (fields.length < 5) continue;
    const [utilization, memoryUsed, memoryTotal, temperatureC] = fields.slice(-4).map(reading);
    gpus.push({
      name: fields.slice(0, -4).join(", ").slice(0, MAX_NAME_CHARS),
      utilizationPercent: Math.min(100, Math.max(0, utilization ?? 0)),
      memoryUsedMb: Math.max(0, memoryUsed ?? 0),
      memoryTotalMb: Math.max(0, memoryTotal ?? 0),
      ...(temperatureC === undefined ? {} : { temperatureC }),
    });
  }
  return gpus.slice(0, MAX_GPUS);
}

function reading(field: string): number | undefined {
  const value = Number(field);
  return field !== "" && Number.isFinite(value) ? value : undefined;
}

/**
 * Reads the GPUs with nvidia-smi. On a machine without it the answer is remembered, so heartbeats stop spawning a
 * process that cannot exist; any other failure (driver hiccup, timeout) is retried next time.
 */
export function gpuProbe(run: RunCommand = runCommand): () => Promise<GpuMetrics[] | undefined> {
  let absent = false;
  return async () => {
    if (absent) return undefined;
    try {
      return parseNvidiaSmi(await run("nvidia-smi", NVIDIA_SMI_QUERY_ARGS));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") absent = true;
      return undefined;
    }
  };
}

function runCommand(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: NVIDIA_SMI_TIMEOUT_MS, encoding: "utf8" }, (error, stdout) => {
      if (error) reject(error);
      else resolve(stdout);
    });
  });
}
