import { chmodSync, chownSync, lstatSync, mkdirSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ActionUser } from "../privilege/action-user.ts";
import { StartupError } from "../privilege/startup-error.ts";

/**
 * The sandbox folder, ready for the action user: created by the agent if missing, owned by that user, mode 0700.
 * A sandbox that is a symlink, is not a folder, belongs to someone else or is open to other users is refused:
 * whoever controls it could point the unprivileged tier anywhere, or plant what it reads. Returns its real path
 * (its parents may be symlinks, it may not).
 */
export function prepareSandbox(root: string, user: ActionUser): string {
  if (process.platform === "win32") return root;
  let parent: string;
  try {
    mkdirSync(dirname(root), { recursive: true });
    parent = realpathSync(dirname(root));
  } catch (err) {
    throw new StartupError(`sandbox ${root}: cannot reach its parent folder: ${(err as Error).message}`);
  }
  const path = root === "/" ? "/" : join(parent, basename(root));
  try {
    mkdirSync(path, { mode: 0o700 });
    chmodSync(path, 0o700);
    if (user.switched) chownSync(path, user.uid, user.gid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new StartupError(`sandbox ${root}: cannot create it: ${(err as Error).message}`);
  }
  const info = lstatSync(path);
  if (info.isSymbolicLink()) throw new StartupError(`sandbox ${root} is a symlink; give the real folder it points to, or a new path`);
  if (!info.isDirectory()) throw new StartupError(`sandbox ${root} exists and is not a folder`);
  if (info.uid !== user.uid) {
    throw new StartupError(`sandbox ${root} exists and belongs to uid ${info.uid}, not to ${user.name} (uid ${user.uid}); remove it or give another --sandbox`);
  }
  // Never loosened or tightened here: an existing folder's mode is its owner's choice, and /tmp made 0700 would break
  // the machine. A sandbox others can reach into is refused instead.
  if ((info.mode & 0o077) !== 0) {
    throw new StartupError(`sandbox ${root} is open to other users (mode ${(info.mode & 0o7777).toString(8)}); run chmod 700 ${root}, or give a new path for the agent to create`);
  }
  return path;
}
