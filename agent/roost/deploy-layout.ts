import { lstat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ActionError } from "../actions/action-error.ts";
import { unsafeFolder } from "../host/folder-owner.ts";
import type { PathPolicy } from "../sandbox/path-policy.ts";
import { openSubdir } from "../sandbox/verified-dir.ts";
import { openDirectoryForCreate, type VerifiedDir } from "../sandbox/verified-fs.ts";

/**
 * What a roost deployment keeps under its folder on a machine:
 *
 *   <path>/current            symlink to versions/<folder>, replaced in one rename
 *   <path>/versions/<folder>  one complete version each (the current one and the kept earlier ones)
 *   <path>/.roost/state.json  which roost, which folders hold which version, which one is current
 *   <path>/.roost/manifests/  the manifest of each kept folder: what its files hold, chunk by chunk
 *   <path>/.roost/cache/      downloaded chunks by hash, until they are part of a version (survives an interruption)
 *   <path>/.roost/staging-*   a version being assembled; never pointed to by `current`
 *
 * Everything is reached through the descriptors of these folders, opened once per deployment: `<path>` through a
 * verified parent (its real path judged by the policy), the others inside it without following any symlink.
 */
export const CURRENT = "current";
export const STATE_FILE = "state.json";
export const LOCK_FILE = "lock";
export const STAGING_PREFIX = "staging-";
/** Where `current` points: relative, so the whole folder can be moved. */
export const CURRENT_TARGET = /^versions\/([^/]+)$/;

export function linkTarget(folder: string): string {
  return `versions/${folder}`;
}

export class DeployFolders {
  private constructor(
    readonly root: VerifiedDir,
    readonly meta: VerifiedDir,
    readonly manifests: VerifiedDir,
    readonly cache: VerifiedDir,
    readonly versions: VerifiedDir,
  ) {}

  /**
   * Opens (and creates, when missing) the folders of a deployment into `path`. `.roost` and what is in it must belong
   * to the user the deployment runs as and be closed to others: the state, the manifests and the cache decide what a
   * deployment trusts, so no other user may have put them there. `path`, `versions` and every folder above `path`
   * must be closed to other users too: the `after` command runs in `<path>/current`, and whoever could rename an entry
   * on that way (a web server's user owning `/var/www/site`) could point it at their own script, run by the deployer.
   */
  static async open(path: string, policy: PathPolicy): Promise<DeployFolders> {
    const opened: VerifiedDir[] = [];
    const keep = (dir: VerifiedDir) => {
      opened.push(dir);
      return dir;
    };
    try {
      const root = keep(await openDirectoryForCreate(path, policy));
      await refuseOpenToOthers(root);
      await refuseOpenAncestors(root.real);
      const meta = keep(await ownFolder(root, ".roost"));
      const manifests = keep(await ownFolder(meta, "manifests"));
      const cache = keep(await ownFolder(meta, "cache"));
      const versions = keep(await openSubdir(root, "versions", { create: 0o755 }));
      await refuseOpenToOthers(versions);
      return new DeployFolders(root, meta, manifests, cache, versions);
    } catch (err) {
      for (const dir of opened.reverse()) await dir.handle.close();
      throw err;
    }
  }

  versionPath(folder: string): string {
    return join(this.versions.real, folder);
  }

  async close(): Promise<void> {
    for (const dir of [this.versions, this.cache, this.manifests, this.meta, this.root]) await dir.handle.close();
  }
}

/** Why a folder is open to users other than the deployer (this process's user) and root, or null (see unsafeFolder). */
function openToOthers(info: { uid: number; mode: number }, allowSticky: boolean): string | null {
  const self = process.geteuid?.();
  return self === undefined ? null : unsafeFolder(info, self, allowSticky);
}

async function refuseOpenToOthers(dir: VerifiedDir): Promise<void> {
  const problem = openToOthers(await dir.handle.stat(), false);
  if (problem) throw new ActionError("conflict", `${dir.real} ${problem}; give it to that user or root (chown) and close it to others (chmod go-w), or deploy elsewhere`);
}

/** Every folder above the deployment's: another user's, or one they may write (unless sticky, like /tmp), is refused. */
async function refuseOpenAncestors(real: string): Promise<void> {
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const problem = openToOthers(await lstat(dir), true);
    if (problem) throw new ActionError("conflict", `${dir}, above the deployment's folder, ${problem}; deploy where only root and the deploying user can rename folders`);
    if (dir === "/") return;
  }
}

async function ownFolder(parent: VerifiedDir, name: string): Promise<VerifiedDir> {
  const dir = await openSubdir(parent, name, { create: 0o700 });
  try {
    const info = await dir.handle.stat();
    const self = process.geteuid?.();
    if (self !== undefined && info.uid !== self) {
      throw new ActionError("conflict", `${dir.real} belongs to uid ${info.uid}, not to uid ${self} that deployments here run as; give it to that user (chown -R) or deploy elsewhere`);
    }
    if ((info.mode & 0o022) !== 0) throw new ActionError("conflict", `${dir.real} is writable by other users; roost keeps it mode 0700 (chmod 700 it)`);
    return dir;
  } catch (err) {
    await dir.handle.close();
    throw err;
  }
}
