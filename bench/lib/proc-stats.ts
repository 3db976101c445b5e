import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times. */
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** CPU time (user + system) a process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLK_TCK;
}

/** Resident memory of a process in MiB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

export function commandLineOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
}

/**
 * The workerd processes under a `wrangler dev`: `entry` listens on the public port and proxies, `user` runs the
 * Worker and its Durable Objects (wrangler starts it with an inspector address).
 */
export function workerdProcesses(wranglerPid: number): { entry: number | null; user: number | null } {
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const child of childrenOf(pid)) {
      if (/\bworkerd serve\b/.test(commandLineOf(child))) found.push(child);
      walk(child);
    }
  };
  walk(wranglerPid);
  return {
    entry: found.find((pid) => !commandLineOf(pid).includes("--inspector-addr")) ?? null,
    user: found.find((pid) => commandLineOf(pid).includes("--inspector-addr")) ?? null,
  };
}

/** CPU used by a set of processes over a stretch of wall time, as a share of one core. */
export class CpuMeter {
  private readonly startCpu: number;
  private readonly startWall = Date.now();

  constructor(private readonly pids: number[]) {
    this.startCpu = this.total();
  }

  private total(): number {
    return this.pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
  }

  read(): { cpuMs: number; wallMs: number; corePercent: number } {
    const cpu = this.total() - this.startCpu;
    const wall = Date.now() - this.startWall;
    return { cpuMs: cpu, wallMs: wall, corePercent: (100 * cpu) / wall };
  }
}

/** A process and all its descendants, parents first. */
export function processTree(pid: number): number[] {
  return [pid, ...childrenOf(pid).flatMap(processTree)];
}

/**
 * CPU time (ms) a live process has run, summed over its threads from the scheduler's nanosecond counters: an idle
 * process uses a few ms a minute, below what clock ticks (10 ms) can tell apart.
 */
export function preciseCpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
  return ns / 1e6;
}

/**
 * CPU time (ms) a process tree has used so far: each live process, plus what the exited children it reaped used
 * (cutime, cstime, in clock ticks), so a helper process that comes and goes within a window is counted too.
 */
export function treeCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const reaped = ((Number(fields[13]) + Number(fields[14])) * 1000) / CLK_TCK;
  return preciseCpuMs(pid) + reaped + childrenOf(pid).reduce((sum, child) => sum + treeCpuMs(child), 0);
}
