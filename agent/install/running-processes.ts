import { readdirSync, readFileSync } from "node:fs";

/** Each process's id with one of its /proc files, skipping those that end while we look. */
function eachProcess(file: "status" | "cmdline"): [number, string][] {
  const found: [number, string][] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      found.push([Number(entry), readFileSync(`/proc/${entry}/${file}`, "utf8")]);
    } catch {
      continue;
    }
  }
  return found;
}

/** Pids of the processes whose real user is `uid`: an account still in use cannot be removed. */
function processesOf(uid: number): number[] {
  return eachProcess("status")
    .filter(([, status]) => Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid)
    .map(([pid]) => pid);
}

/** Pids of the processes running `file` as their script (`node <file> ...`), such as an installed agent. */
function processesRunning(file: string): number[] {
  return eachProcess("cmdline")
    .filter(([pid, cmdline]) => pid !== process.pid && cmdline.split("\0").slice(0, 3).includes(file))
    .map(([pid]) => pid);
}

/**
 * Pids of an install's processes, each once: those running its bundle, then those of its action user (`uid`, if it
 * has one). The action worker, which runs the bundle as that user, is both and must not be named twice.
 */
export function processesOfInstall(bundle: string, uid: number | null): number[] {
  return [...new Set([...processesRunning(bundle), ...(uid === null ? [] : processesOf(uid))])];
}
