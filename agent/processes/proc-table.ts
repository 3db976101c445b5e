import { readdirSync, readFileSync } from "node:fs";
import { parseStat, type StatFields } from "../host/procfs.ts";

/** One line of the process table, as /proc tells it. */
export type ProcessEntry = Pick<StatFields, "pid" | "ppid" | "sid" | "startTicks" | "kernelThread">;

/** Every live process on the machine (Linux; elsewhere an empty list). */
export function processTable(): ProcessEntry[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const entries: ProcessEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = parseStat(readFileSync(`/proc/${name}/stat`, "utf8"));
      if (stat && stat.state !== "Z" && stat.state !== "X") entries.push(stat);
    } catch {
      // Gone between the listing and the read.
    }
  }
  return entries;
}

/** A process's environment; null when it cannot be read (gone, or unreadable for now). */
function readEnvironment(pid: number): Buffer | null {
  try {
    return readFileSync(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
}

/** Every value `name` has in the environment: a variable may stand in it more than once, and any may be the one sought. */
function valuesIn(environ: Buffer, name: string): string[] {
  const wanted = Buffer.from(`${name}=`);
  const values: string[] = [];
  // A match only at the start of an entry: `name=` may also stand inside another variable's value.
  for (let at = environ.indexOf(wanted); at >= 0; at = environ.indexOf(wanted, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue;
    const end = environ.indexOf(0, at);
    values.push(environ.toString("utf8", at + wanted.length, end < 0 ? environ.length : end));
  }
  return values;
}

/** What `environmentValues` read, per variable name, by pid with the start time that tells a reused pid apart. */
const seen = new Map<string, Map<number, { startTicks: number; values: string[] }>>();

/**
 * The values `name` has in the environment of each process of `table`, each process's environment read once in its
 * life: every heartbeat of a supervisor looks at every process of the machine, and most of them never change. Only a
 * read that found an environment is remembered: one that could not read it (a process gone, caught mid-exec, or not
 * dumpable for a moment, which a process of the agent's own user can be and then stop being) is tried again next time.
 * What is remembered of processes no longer in `table` is dropped.
 */
export function environmentValues(table: readonly ProcessEntry[], name: string): (p: ProcessEntry) => string[] {
  const known = seen.get(name) ?? new Map<number, { startTicks: number; values: string[] }>();
  seen.set(name, known);
  const live = new Set(table.map((p) => p.pid));
  for (const pid of known.keys()) if (!live.has(pid)) known.delete(pid);
  return (p) => {
    const kept = known.get(p.pid);
    if (kept && kept.startTicks === p.startTicks) return kept.values;
    if (p.kernelThread) return [];
    const read = readEnvironment(p.pid);
    if (read === null || read.length === 0) return [];
    const values = valuesIn(read, name);
    known.set(p.pid, { startTicks: p.startTicks, values });
    return values;
  };
}
