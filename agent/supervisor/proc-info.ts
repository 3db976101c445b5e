import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseStat, type StatFields } from "../host/procfs.ts";
import { membersOfSets, trackedMembers, type ProcessTracking, type TrackedSet } from "../processes/tracked-processes.ts";

/**
 * What /proc says about processes. A PID alone does not name a process for long: once it ends, the kernel may hand the
 * number to another one. The start time (clock ticks after boot) with the boot id does: together they are the
 * identity the supervisor keeps on disk and checks before adopting or signalling a process it did not spawn itself.
 */

/** The kernel reports times in /proc in USER_HZ ticks, fixed at 100 by the Linux ABI on every common architecture. */
export const TICKS_PER_SECOND = 100;

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: when it started, in ticks after boot. */
  startTicks: number;
  bootId: string;
}

function readStat(pid: number): StatFields | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

let cachedBootId: string | undefined;

export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      cachedBootId = "";
    }
  }
  return cachedBootId;
}

/** The identity of a running process, or null when there is none under that PID (or only a zombie). */
export function identityOf(pid: number): ProcessIdentity | null {
  const stat = readStat(pid);
  if (!stat || stat.state === "Z" || stat.state === "X") return null;
  return { pid, startTicks: stat.startTicks, bootId: bootId() };
}

/** True when the process recorded as `identity` is still the one running under its PID. */
export function stillRunning(identity: ProcessIdentity): boolean {
  const now = identityOf(identity.pid);
  return now !== null && now.startTicks === identity.startTicks && now.bootId === identity.bootId;
}

let cachedPageSize: number | undefined;

function pageSize(): number {
  if (cachedPageSize === undefined) {
    try {
      cachedPageSize = Number(execFileSync("getconf", ["PAGESIZE"], { encoding: "utf8", timeout: 2_000 }).trim()) || 4096;
    } catch {
      cachedPageSize = 4096;
    }
  }
  return cachedPageSize;
}

export interface Usage {
  /** CPU time of every live process of the instance, in ticks. */
  cpuTicks: number;
  rssBytes: number;
}

/**
 * CPU time and resident memory of each instance, over all its processes as `instanceMembers` finds them, for every
 * instance from one look at /proc. An instance with no live process left has no entry.
 */
export function instanceUsage<K>(instances: ReadonlyMap<K, TrackedSet>): Map<K, Usage> {
  const usage = new Map<K, Usage>();
  const page = pageSize();
  for (const [key, pids] of membersOfSets(instances, INSTANCE_VARIABLE)) {
    const live = pids.map((pid) => readStat(pid)).filter((stat): stat is StatFields => stat !== null && stat.state !== "Z");
    if (live.length === 0) continue;
    usage.set(key, {
      cpuTicks: live.reduce((sum, stat) => sum + stat.cpuTicks, 0),
      rssBytes: live.reduce((sum, stat) => sum + stat.rssPages * page, 0),
    });
  }
  return usage;
}

/** Whether any process is left in the group. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Carries an instance's marker, inherited by everything it starts, whatever session or process group that moves to.
 * Not the directives' CORTEX_ACTION_MARK: a supervised program's environment holds nothing named after the agent.
 */
export const INSTANCE_VARIABLE = "SUPERVISED_INSTANCE";

/** The processes of an instance now, found as a directive's are (`trackedMembers`), by the instance's own marker. */
export function instanceMembers(tracking: ProcessTracking, sessions: ReadonlySet<number>, known: Set<number> = new Set()): number[] {
  return trackedMembers(tracking, sessions, known, INSTANCE_VARIABLE);
}
