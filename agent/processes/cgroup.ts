import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

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

/** The cgroup v2 folder this agent runs in, on Linux; null elsewhere or without cgroup v2. */
export function agentCgroupDir(): string | null {
  return process.platform === "linux" ? ownCgroupDir() : null;
}

/** The cgroups of directives and runs are named `cortex-d-…` and `cortex-r-…` (`newTracking`). */
const TRACKED_PREFIX = "cortex-";

/**
 * Where per-directive cgroups can be created, or null: not Linux, no cgroup v2, or not delegated to this agent (a
 * container or a service without `Delegate=yes`). Probed by creating and removing one.
 */
export function cgroupParent(): string | null {
  const dir = agentCgroupDir();
  return dir && canCreateCgroupsIn(dir) ? dir : null;
}

/**
 * Whether this process can create cgroups under `dir`: a child made here must come out a cgroup (the kernel fills it
 * with `cgroup.procs`). Asked of the folder itself, not of a file in it: a folder someone else made, or an ordinary
 * one holding a file of that name, passes a look but not this.
 */
function canCreateCgroupsIn(dir: string): boolean {
  const probe = join(dir, `cortex-probe-${process.pid}`);
  try {
    mkdirSync(probe);
  } catch {
    return false;
  }
  const usable = existsSync(join(probe, "cgroup.procs"));
  return removeCgroup(probe) && usable;
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

/**
 * The cgroup of an agent with a state folder: `cortex-agent-<hash of the folder>` under the cgroup it runs in, so it
 * is the same after a restart and no other agent's (several agents may share one cgroup: a shell, a test run). Its
 * children are this agent's directives and runs only. What a crashed or killed agent left there empty is removed
 * here, before anything new goes in; a cgroup with processes in it (a run still going) cannot be removed and stays.
 * Null, and nothing touched, where cgroups cannot be used (see `cgroupParent`). `base` is for tests.
 */
export function ownedCgroupParent(stateDir: string, base: string | null = agentCgroupDir()): { parent: string; swept: string[] } | null {
  if (!base) return null;
  const owner = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 16);
  const parent = join(base, `cortex-agent-${owner}`);
  try {
    mkdirSync(parent);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") return null;
  }
  // What is already there is used only if it is a folder in its own right (a symlink would lead elsewhere) in which
  // this agent can make cgroups.
  if (!lstatSync(parent, { throwIfNoEntry: false })?.isDirectory() || !canCreateCgroupsIn(parent)) return null;
  return { parent, swept: sweepEmptyCgroups(parent) };
}

/** Removes the empty directive and run cgroups directly under `parent`; returns their names. */
export function sweepEmptyCgroups(parent: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name.startsWith(TRACKED_PREFIX))
      .map((e) => e.name);
  } catch {
    return [];
  }
  // rmdir removes a cgroup only when no process and no child cgroup is left in it: one still in use stays.
  return entries.filter((name) => removeCgroup(join(parent, name)));
}
