import { readdir, readFile } from "node:fs/promises";
import { ActionError } from "../actions/action-error.ts";

/**
 * Processes as Linux shows them under /proc, read directly rather than through `ps`, so nothing is spawned and no
 * output format has to be guessed. The environment of a process (/proc/PID/environ) is never read.
 */

/** Clock ticks per second in /proc times: USER_HZ, fixed at 100 by the kernel ABI on every Linux architecture. */
export const CLOCK_TICKS = 100;
/** PF_KTHREAD in the `flags` field of /proc/PID/stat. */
const PF_KTHREAD = 0x00200000;

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The kernel's name for the process (at most 15 characters), as `ps -o comm` and `pkill` see it. */
  name: string;
  state: string;
  uid: number;
  /** User plus system CPU time, in clock ticks. */
  cpuTicks: number;
  /** Start time in clock ticks after boot: with the PID, identifies the process even if the PID is reused. */
  startTicks: number;
  rssKb: number;
  threads: number;
  kernelThread: boolean;
  /** The command line's arguments; empty for kernel threads and zombies. */
  argv: string[];
}

export function requireLinux(what: string): void {
  if (process.platform !== "linux") throw new ActionError("unsupported", `${what} is available on Linux only (this machine runs ${process.platform})`);
}

/** What /proc/PID/stat says of a process. */
export type StatFields = Pick<ProcessInfo, "pid" | "ppid" | "name" | "state" | "cpuTicks" | "startTicks" | "threads" | "kernelThread"> & {
  /** Session id: a process that calls setsid leaves its parent's. */
  sid: number;
  /** Resident memory, in pages. */
  rssPages: number;
};

/** Parses /proc/PID/stat; the name may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseStat(text: string): StatFields | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const fields = text.slice(close + 2).trim().split(/\s+/);
  if (fields.length < 20) return null;
  const num = (i: number) => Number(fields[i]);
  return {
    pid: Number(text.slice(0, open).trim()),
    name: text.slice(open + 1, close),
    state: fields[0]!,
    ppid: num(1),
    sid: num(3),
    kernelThread: (num(6) & PF_KTHREAD) !== 0,
    cpuTicks: num(11) + num(12),
    threads: num(17),
    startTicks: num(19),
    rssPages: num(21),
  };
}

function statusField(status: string, field: string): string | undefined {
  const match = new RegExp(`^${field}:\\s*(.*)$`, "m").exec(status);
  return match?.[1];
}

/** One process, or null when it ended while being read. */
export async function readProcess(pid: number): Promise<ProcessInfo | null> {
  try {
    const [stat, status, cmdline] = await Promise.all([
      readFile(`/proc/${pid}/stat`, "utf8"),
      readFile(`/proc/${pid}/status`, "utf8"),
      readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0)),
    ]);
    const parsed = parseStat(stat);
    if (!parsed) return null;
    const argv = cmdline.length ? cmdline.toString("utf8").replace(/\0+$/, "").split("\0") : [];
    return {
      ...parsed,
      uid: Number(statusField(status, "Uid")?.split(/\s+/)[0] ?? -1),
      rssKb: Number(statusField(status, "VmRSS")?.split(/\s+/)[0] ?? 0),
      argv,
    };
  } catch {
    return null;
  }
}

export async function listPids(): Promise<number[]> {
  const names = await readdir("/proc");
  return names.filter((name) => /^[0-9]+$/.test(name)).map(Number);
}

export async function readProcesses(): Promise<ProcessInfo[]> {
  const found = await Promise.all((await listPids()).map(readProcess));
  return found.filter((p): p is ProcessInfo => p !== null);
}

/** The PID's start time, to check right before signalling that it is still the process that was matched. */
export async function startTicksOf(pid: number): Promise<number | null> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, "utf8"))?.startTicks ?? null;
  } catch {
    return null;
  }
}

/** The system's boot time in ms since the epoch, from /proc/stat. */
export async function bootTimeMs(): Promise<number> {
  const stat = await readFile("/proc/stat", "utf8");
  const btime = /^btime\s+(\d+)$/m.exec(stat);
  return btime ? Number(btime[1]) * 1000 : Date.now() - Math.round(Number((await readFile("/proc/uptime", "utf8")).split(" ")[0]) * 1000);
}

/** The PID chain from `pid` up to init, `pid` first. */
export async function ancestorsOf(pid: number): Promise<number[]> {
  const chain: number[] = [];
  let current = pid;
  while (current > 0 && !chain.includes(current)) {
    chain.push(current);
    const info = await readProcess(current);
    if (!info) break;
    current = info.ppid;
  }
  return chain;
}
