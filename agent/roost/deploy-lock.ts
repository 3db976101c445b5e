import { open, readFile, rm } from "node:fs/promises";
import { ActionError } from "../actions/action-error.ts";

/** Folders this process is deploying into right now. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One deployment at a time per folder, across directives of this agent and across agents on the machine: a lock
 * file holding the owner's pid. A lock left by a process that is gone (a crash) is taken over.
 */
export async function lockFolder(lockPath: string, root: string): Promise<() => Promise<void>> {
  if (held.has(root)) throw new ActionError("conflict", `another deployment into ${root} is running on this machine`);
  held.add(root);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await open(lockPath, "wx", 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return async () => {
          held.delete(root);
          await rm(lockPath, { force: true });
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const owner = Number((await readFile(lockPath, "utf8").catch(() => "")).trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
          throw new ActionError("conflict", `another deployment into ${root} is running (process ${owner})`);
        }
        await rm(lockPath, { force: true });
      }
    }
    throw new ActionError("conflict", `cannot take the lock ${lockPath}`);
  } catch (err) {
    held.delete(root);
    throw err;
  }
}
