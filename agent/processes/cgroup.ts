import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * cgroup v2, where the machine lets this agent use it: every directive's processes go into a cgroup of their own,
 * which no process can leave without write access to it, so cancel reaches what daemonised too.
 */

/** The cgroup v2 folder this process lives in, when cgroup v2 is mounted (unified or hybrid layout). */
function ownCgroupDir(): string | null {
  let mountinfo: string;
  let membership: string;
  try {
    mountinfo = readFileSync("/proc/self/mountinfo", "utf8");
    membership = readFileSync("/proc/self/cgroup", "utf8");
  } catch {
    return null;
  }
  const own = membership.split("\n").find((line) => line.startsWith("0::"))?.slice(3);
  if (own === undefined) return null;
  for (const line of mountinfo.split("\n")) {
    const [before, after] = line.split(" - ");
    if (!after?.startsWith("cgroup2 ")) continue;
    const fields = before!.split(" ");
    const mountRoot = fields[3]!;
    const mountPoint = fields[4]!;
    if (own !== mountRoot && !own.startsWith(mountRoot === "/" ? "/" : `${mountRoot}/`)) continue;
    return join(mountPoint, own.slice(mountRoot === "/" ? 0 : mountRoot.length)).replace(/(.)\/+$/, "$1");
  }
  return null;
}

/**
 * Where per-directive cgroups can be created, or null: not Linux, no cgroup v2, or not delegated to this agent (a
 * container or a service without `Delegate=yes`). Probed by creating and removing one.
 */
export function cgroupParent(): string | null {
  if (process.platform !== "linux") return null;
  const dir = ownCgroupDir();
  if (!dir) return null;
  const probe = join(dir, `cortex-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    const usable = existsSync(join(probe, "cgroup.procs"));
    rmdirSync(probe);
    return usable ? dir : null;
  } catch {
    return null;
  }
}

export function createCgroup(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

export function cgroupMembers(dir: string): number[] {
  try {
    return readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILL to everything in the cgroup at once (`cgroup.kill`, Linux 5.14+); false where the kernel lacks it. */
export function killCgroup(dir: string): boolean {
  try {
    writeFileSync(join(dir, "cgroup.kill"), "1");
    return true;
  } catch {
    return false;
  }
}

/** Removes an empty cgroup; false while processes are still in it (or it is already gone). */
export function removeCgroup(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
