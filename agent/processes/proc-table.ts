import { readdirSync, readFileSync } from "node:fs";

/** One line of the process table, as /proc tells it. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Session id: a process that calls setsid leaves its parent's. */
  sid: number;
  /** When it started, in clock ticks since boot: with the pid, names one process even after the pid is reused. */
  startTicks: number;
  zombie: boolean;
}

/** Fields after the command name in /proc/<pid>/stat: state, ppid, pgrp, session, ... */
function parseStat(pid: number, text: string): ProcessEntry | null {
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (rest.length < 20) return null;
  return { pid, ppid: Number(rest[1]), sid: Number(rest[3]), startTicks: Number(rest[19]), zombie: rest[0] === "Z" || rest[0] === "X" };
}

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
      const entry = parseStat(Number(name), readFileSync(`/proc/${name}/stat`, "utf8"));
      if (entry && !entry.zombie) entries.push(entry);
    } catch {
      // Gone between the listing and the read.
    }
  }
  return entries;
}

/** A process's environment; "denied" for another user's, which stays so; null when it is gone. */
function readEnvironment(pid: number): Buffer | "denied" | null {
  try {
    return readFileSync(`/proc/${pid}/environ`);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "EACCES" || code === "EPERM" ? "denied" : null;
  }
}

/** The kernel's own threads (kthreadd, pid 2, and its children) have no environment and never run a program. */
function kernelThread(p: ProcessEntry): boolean {
  return p.pid === 2 || p.ppid === 2;
}

function valueIn(environ: Buffer, name: string): string | null {
  const wanted = Buffer.from(`${name}=`);
  // A match only at the start of an entry: `name=` may also stand inside another variable's value.
  for (let at = environ.indexOf(wanted); at >= 0; at = environ.indexOf(wanted, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue;
    const end = environ.indexOf(0, at);
    return environ.toString("utf8", at + wanted.length, end < 0 ? environ.length : end);
  }
  return null;
}

/** What `environmentValues` read, per variable name, by pid with the start time that tells a reused pid apart. */
const seen = new Map<string, Map<number, { startTicks: number; value: string | null }>>();

/**
 * The value `name` has in the environment of each process of `table` (null when unset or unreadable), each process's
 * environment read once in its life: every heartbeat of a supervisor looks at every process of the machine, and most
 * of them never change. A match counts only at the start of an entry. A read that found no environment at all (a
 * process caught mid-exec, or gone) is not remembered, so it is tried again next time. What is remembered of
 * processes no longer in `table` is dropped.
 */
export function environmentValues(table: readonly ProcessEntry[], name: string): (p: ProcessEntry) => string | null {
  const known = seen.get(name) ?? new Map<number, { startTicks: number; value: string | null }>();
  seen.set(name, known);
  const live = new Set(table.map((p) => p.pid));
  for (const pid of known.keys()) if (!live.has(pid)) known.delete(pid);
  return (p) => {
    const kept = known.get(p.pid);
    if (kept && kept.startTicks === p.startTicks) return kept.value;
    if (kernelThread(p)) return null;
    const read = readEnvironment(p.pid);
    if (read === null || read.length === 0) return null;
    const value = read === "denied" ? null : valueIn(read, name);
    known.set(p.pid, { startTicks: p.startTicks, value });
    return value;
  };
}
