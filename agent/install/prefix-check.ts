import { lstatSync, readdirSync, realpathSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";
import { lstatOrNull, unsafeFolder } from "../host/folder-owner.ts";
import { InstallError } from "./install-error.ts";

/**
 * Checks that `prefix` is a safe place for an install run by `uid` (root, usually): nobody else may replace it or
 * anything in it, since root will run what it holds and write a token into it. The prefix must be absolute; if it
 * exists it must be a real folder (not a symlink) owned by `uid` and writable by nobody else; every folder above it
 * must belong to `uid` or root and be writable by nobody else, except sticky ones like /tmp, where others cannot
 * rename what is ours. Returns whether the prefix exists already.
 */
export function checkPrefix(prefix: string, uid: number): { exists: boolean } {
  if (resolve(prefix) !== prefix || prefix === sep) {
    throw new InstallError(`--prefix must be an absolute, normalised folder path other than /, not ${JSON.stringify(prefix)}`);
  }
  const stat = lstatOrNull(prefix);
  let ancestor = dirname(prefix);
  while (lstatOrNull(ancestor) === null) ancestor = dirname(ancestor);
  // Symlinks above the prefix are resolved (/opt may link elsewhere); what counts is who may change the real folders.
  const real = realpathSync(ancestor);
  for (let dir = real; ; dir = dirname(dir)) {
    const problem = unsafeFolder(lstatSync(dir), uid, true);
    if (problem) throw new InstallError(`refusing to install under ${dir}: it ${problem}`);
    if (dir === sep) break;
  }
  if (stat === null) return { exists: false };
  if (stat.isSymbolicLink()) throw new InstallError(`refusing to install into ${prefix}: it is a symbolic link; give the real folder as --prefix`);
  if (!stat.isDirectory()) throw new InstallError(`refusing to install into ${prefix}: it is not a folder`);
  const problem = unsafeFolder(stat, uid, false);
  if (problem || stat.uid !== uid) throw new InstallError(`refusing to install into ${prefix}: it ${problem ?? `is owned by uid ${stat.uid}, not by this user (${uid})`}`);
  return { exists: true };
}

/**
 * Checks that users other than the owner can pass through every existing folder above `prefix` (o+x): the action
 * user must reach the bundle (its action worker runs it) and the sandbox inside the prefix.
 */
export function checkReachable(prefix: string, who: string): void {
  let dir = dirname(prefix);
  while (lstatOrNull(dir) === null) dir = dirname(dir);
  for (dir = realpathSync(dir); ; dir = dirname(dir)) {
    const mode = lstatSync(dir).mode;
    if ((mode & 0o001) === 0) {
      const octal = (mode & 0o7777).toString(8).padStart(4, "0");
      throw new InstallError(`${who} could not reach ${prefix}: ${dir} is closed to other users (mode ${octal}); choose a --prefix that others may pass through, such as one under /opt`);
    }
    if (dir === sep) break;
  }
}

/** Whether `prefix` holds anything: an install's own folder may be reused, another program's may not. */
export function isEmptyFolder(prefix: string): boolean {
  return readdirSync(prefix).length === 0;
}

/** A path inside the prefix that the installer is about to write or trust: it must not be a symlink. */
export function checkNotSymlink(path: string): void {
  if (lstatOrNull(path)?.isSymbolicLink()) throw new InstallError(`refusing to use ${path}: it is a symbolic link`);
}
