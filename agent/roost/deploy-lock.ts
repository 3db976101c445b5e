import { constants } from "node:fs";
import { ActionError } from "../actions/action-error.ts";
import { openIn, readFileIn, removeIn } from "../sandbox/verified-dir.ts";
import { LOCK_FILE, type DeployFolders } from "./deploy-layout.ts";

/** Folders this process is deploying into right now, by real path. */
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
 * file in `.roost` holding the owner's pid. A lock left by a process that is gone (a crash) is taken over.
 */
export async function lockFolder(folders: DeployFolders): Promise<() => Promise<void>> {
  const root = folders.root.real;
  if (held.has(root)) throw new ActionError("conflict", `another deployment into ${root} is running on this machine`);
  held.add(root);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const handle = await openIn(folders.meta, LOCK_FILE, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return async () => {
          held.delete(root);
          await removeIn(folders.meta, LOCK_FILE);
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const owner = Number(((await readFileIn(folders.meta, LOCK_FILE).catch(() => null)) ?? "").toString().trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
          throw new ActionError("conflict", `another deployment into ${root} is running (process ${owner})`);
        }
        await removeIn(folders.meta, LOCK_FILE);
      }
    }
    throw new ActionError("conflict", `cannot take the lock in ${folders.meta.real}`);
  } catch (err) {
    held.delete(root);
    throw err;
  }
}
