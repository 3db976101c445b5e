import { readdirSync, readFileSync } from "node:fs";

/** One line of the process table, as /proc tells it. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** Session id: a process that calls setsid leaves its parent's. */
  sid: number;
  zombie: boolean;
}

/** Fields after the command name in /proc/<pid>/stat: state, ppid, pgrp, session, ... */
function parseStat(pid: number, text: string): ProcessEntry | null {
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  if (rest.length < 4) return null;
  return { pid, ppid: Number(rest[1]), sid: Number(rest[3]), zombie: rest[0] === "Z" || rest[0] === "X" };
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

/** Whether the process's environment holds `needle` (`NAME=value`) as a whole entry. */
export function environmentHas(pid: number, needle: string): boolean {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`);
    const wanted = Buffer.from(`${needle}\0`);
    const at = environ.indexOf(wanted);
    return at === 0 || (at > 0 && environ[at - 1] === 0);
  } catch {
    return false;
  }
}
