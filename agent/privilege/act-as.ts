import { rmdir, unlink, type FileHandle } from "node:fs/promises";
import { waitForExit } from "../actions/process-group.ts";
import type { TrackedProcesses } from "../processes/tracked-processes.ts";

/**
 * The few things machine actions do from the agent itself rather than through a program: signal a process, remove
 * a temporary file. When actions run as another user than the agent, they are done by a small program started as
 * that user, so the kernel decides whose processes and files they may touch, not the agent's checks.
 */

type Hands = Pick<TrackedProcesses, "spawn" | "switched">;

/** Runs `script` as the action user; `fd`, when given, is its descriptor 3. */
async function asUser(hands: Hands, script: string, args: string[], fd?: number): Promise<{ ok: boolean; stderr: string }> {
  const child = hands.spawn("/bin/sh", ["-c", script, "cortex-act", ...args], { stdio: ["ignore", "ignore", "pipe", ...(fd === undefined ? [] : [fd])] });
  let stderr = "";
  child.stderr!.on("data", (data: Buffer) => (stderr += data.toString()));
  const exit = await waitForExit(child);
  return { ok: exit.code === 0, stderr };
}

/** Sends `signal` to `pid` with the action user's rights; null when sent, else ESRCH, EPERM or another code. */
export async function signalAs(hands: Hands, pid: number, signal: NodeJS.Signals): Promise<string | null> {
  if (!hands.switched) {
    try {
      process.kill(pid, signal);
      return null;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
  }
  const { ok, stderr } = await asUser(hands, 'kill -s "$1" "$2"', [signal.replace(/^SIG/, ""), String(pid)]);
  if (ok) return null;
  return /no such process/i.test(stderr) ? "ESRCH" : /not permitted/i.test(stderr) ? "EPERM" : stderr.trim() || "failed";
}

/**
 * Removes the entry `name` (a file, or an empty folder) of the folder held by `dir`, with the action user's rights;
 * true when it is gone. The folder is named by its descriptor, never by a path: the helper program gets the
 * descriptor as its fd 3, so a folder swapped for a symlink meanwhile cannot redirect the removal.
 */
export async function removeAs(hands: Hands, dir: FileHandle, name: string, folder: boolean): Promise<boolean> {
  if (!hands.switched) return (folder ? rmdir : unlink)(`/proc/self/fd/${dir.fd}/${name}`).then(() => true, () => false);
  return (await asUser(hands, folder ? 'rmdir -- "/proc/self/fd/3/$1"' : 'rm -- "/proc/self/fd/3/$1"', [name], dir.fd)).ok;
}
