import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import type { GpuMetrics } from "../../protocol/metrics.ts";
import { AGENT_VERSION } from "../connection/agent-version.ts";
import { MB, toMb, writeJson } from "../host/compact-output.ts";
import { listFilesystems } from "../host/filesystems.ts";
import { findProgram, runProgram } from "../host/programs.ts";
import { readText } from "../host/read-text.ts";
import { NVIDIA_SMI_QUERY_ARGS, NVIDIA_SMI_TIMEOUT_MS, parseNvidiaSmi } from "../metrics/nvidia-smi.ts";
import { cpuPercent, cpuTimes } from "../metrics/cpu-usage.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";

const CPU_SAMPLE_MS = 500;

/** The distribution's name from os-release, e.g. "Debian GNU/Linux 12 (bookworm)". */
async function distribution(): Promise<string | null> {
  const release = (await readText("/etc/os-release")) ?? (await readText("/usr/lib/os-release"));
  const pretty = release && /^PRETTY_NAME=("?)(.*)\1$/m.exec(release);
  return pretty ? pretty[2]! : null;
}

/** Linux memory as the kernel counts it: "available" includes reclaimable cache, which "free" does not. */
async function memory(): Promise<Record<string, number>> {
  const meminfo = process.platform === "linux" ? await readText("/proc/meminfo") : null;
  const kb = (field: string) => {
    const match = meminfo && new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(meminfo);
    return match ? Number(match[1]) * 1024 : null;
  };
  const total = kb("MemTotal") ?? os.totalmem();
  const available = kb("MemAvailable") ?? os.freemem();
  const swapTotal = kb("SwapTotal");
  const swapFree = kb("SwapFree");
  return {
    totalMb: toMb(total),
    availableMb: toMb(available),
    usedPercent: Math.round(((total - available) / total) * 1000) / 10,
    ...(swapTotal !== null && swapFree !== null && { swapTotalMb: toMb(swapTotal), swapUsedMb: toMb(swapTotal - swapFree) }),
  };
}

async function gpus(ctx: ActionContext): Promise<{ gpus: GpuMetrics[] } | { gpus: []; gpuNote: string }> {
  if (!findProgram(ctx.host.binDirs, "nvidia-smi")) return { gpus: [], gpuNote: "no NVIDIA GPU tools (nvidia-smi) on this machine" };
  const result = await runProgram(ctx, "nvidia-smi", NVIDIA_SMI_QUERY_ARGS, { timeoutMs: NVIDIA_SMI_TIMEOUT_MS }).catch((err: Error) => err);
  if (result instanceof Error) return { gpus: [], gpuNote: `nvidia-smi failed: ${result.message}` };
  if (result.code !== 0) return { gpus: [], gpuNote: `nvidia-smi failed: ${(result.stderr || result.stdout).trim().slice(0, 300)}` };
  return { gpus: parseNvidiaSmi(result.stdout) };
}

async function cpu(ctx: ActionContext) {
  const before = cpuTimes(os.cpus());
  await sleep(CPU_SAMPLE_MS, undefined, { signal: ctx.signal });
  const cpus = os.cpus();
  const [load1, load5, load15] = os.loadavg().map((n) => Math.round(n * 100) / 100);
  return {
    model: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    usagePercent: cpuPercent(before, cpuTimes(cpus)),
    loadAverage: { "1m": load1, "5m": load5, "15m": load15 },
  };
}

export async function systemInfo(_params: ActionParams<"system.info">, ctx: ActionContext): Promise<ActionOutcome> {
  const linux = process.platform === "linux";
  const [distro, vendor, product, cpuInfo, mem, disks, gpuInfo] = await Promise.all([
    linux ? distribution() : Promise.resolve(null),
    linux ? readText("/sys/class/dmi/id/sys_vendor") : Promise.resolve(null),
    linux ? readText("/sys/class/dmi/id/product_name") : Promise.resolve(null),
    cpu(ctx),
    memory(),
    listFilesystems(ctx),
    gpus(ctx),
  ]);
  const uptime = Math.round(os.uptime());
  writeJson(ctx.out, {
    hostname: os.hostname(),
    os: {
      name: distro ?? (os.version() || os.type()),
      kernel: `${os.type()} ${os.release()}`,
      arch: os.arch(),
      ...(vendor || product ? { hardware: [vendor, product].filter(Boolean).join(" ") } : {}),
    },
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    uptimeSeconds: uptime,
    bootedAt: new Date(Date.now() - uptime * 1000).toISOString(),
    cpu: cpuInfo,
    memory: mem,
    filesystems: disks.filesystems.map((fs) => ({
      mount: fs.mount,
      type: fs.type,
      sizeGb: Math.round((fs.sizeBytes / MB / 1024) * 10) / 10,
      freeGb: Math.round((fs.freeBytes / MB / 1024) * 10) / 10,
      usePercent: fs.usePercent,
    })),
    ...(disks.note && { filesystemsNote: disks.note }),
    ...gpuInfo,
    agentVersion: AGENT_VERSION,
  });
  return {};
}
