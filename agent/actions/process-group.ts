import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** How long to wait for output pipes to drain after the process exited; a detached grandchild may hold them open. */
const DRAIN_MS = 300;
const POLL_MS = 25;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  error?: Error;
}

/** Resolves once the process has exited and its output has been read (or has stopped arriving). */
export function waitForExit(child: ChildProcess): Promise<ProcessExit> {
  return new Promise((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("exit", (code, signal) => {
      const finish = () => {
        clearTimeout(timer);
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({ code, signal });
      };
      const timer = setTimeout(finish, DRAIN_MS);
      child.once("close", finish);
    });
  });
}

function exists(pidOrGroup: number): boolean {
  try {
    process.kill(pidOrGroup, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the process is running. A zombie is not: in a container whose init never reaps orphans, a dead process
 * would otherwise look alive forever.
 */
export function isAlive(pid: number): boolean {
  if (!exists(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function groupGoneWithin(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!exists(-pgid)) return true;
    await sleep(POLL_MS);
  }
  return !exists(-pgid);
}

/**
 * Stops a whole process group (a process spawned `detached` leads its own), escalating SIGINT → SIGTERM → SIGKILL
 * so that programs get a chance to clean up, and nothing the command started in the background survives it.
 */
export async function terminateGroup(pgid: number, graceMs: number): Promise<void> {
  if (process.platform === "win32") {
    await waitForExit(spawn("taskkill", ["/pid", String(pgid), "/T", "/F"], { stdio: "ignore", windowsHide: true }));
    return;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    if (!signalGroup(pgid, signal)) return;
    if (await groupGoneWithin(pgid, graceMs)) return;
  }
  signalGroup(pgid, "SIGKILL");
}
