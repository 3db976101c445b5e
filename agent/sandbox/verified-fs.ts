import { constants, type Stats } from "node:fs";
import { mkdir, open, readlink, realpath, type FileHandle } from "node:fs/promises";
import { isAbsolute, join, parse, resolve, sep } from "node:path";
import { ActionError, fsFailure } from "../actions/action-error.ts";
import type { PathPolicy } from "./path-policy.ts";

/**
 * File access that checks what it actually opened. On Linux every open starts with an O_PATH descriptor (which
 * reads nothing and has no side effect, even on a device or a FIFO), whose real path (/proc/self/fd/N) is judged by
 * the policy; only then is the same file reopened through that descriptor for reading or writing. Files are created
 * through a verified parent directory, with O_NOFOLLOW on the new name. So `..` after a missing folder, dangling or
 * swapped symlinks cannot lead outside: whatever the path string said, the kernel's answer is what is checked.
 *
 * Elsewhere (Windows, macOS) there is no O_PATH or /proc: the real path of the string is checked instead, which a
 * symlink swapped at the wrong moment could defeat.
 */

const LINUX = process.platform === "linux";
/** Linux's O_PATH; Node passes open flags through unchanged. */
const O_PATH = 0o10000000;
const { O_RDONLY, O_RDWR, O_WRONLY, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY } = constants;
/** Symlinks followed one by one when a write names one, as the kernel would, at most this many. */
const MAX_LINKS = 40;

const SEPARATORS = sep === "\\" ? /[\\/]/ : /\//;

/** A folder held open by a descriptor (O_PATH on Linux), with the real path it had when it was opened. */
export interface VerifiedDir {
  handle: FileHandle;
  real: string;
}

export interface Opened {
  handle: FileHandle;
  /** The real path of what was opened. */
  real: string;
  stats: Stats;
}

export function fdPath(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}

/**
 * Closes a descriptor without waiting for it: a close tells a finished read nothing, and waiting is one more trip
 * through libuv's thread pool on the action's path. The descriptor is released as soon as that trip runs.
 */
export function closeInBackground(handle: FileHandle): void {
  handle.close().catch(() => undefined);
}

/** The real path of an open descriptor. */
export async function realPathOf(handle: FileHandle, openedAs: string): Promise<string> {
  return LINUX ? readlink(fdPath(handle)) : realpath(openedAs);
}

export async function openOrFail(path: string, flags: number, shownAs: string, mode?: number): Promise<FileHandle> {
  try {
    return await open(path, flags, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ELOOP") throw new ActionError("invalid_params", `${shownAs}: too many levels of symbolic links`);
    throw fsFailure(err, shownAs);
  }
}

/** Opens `path` without reading it (following symlinks), and checks the real path of what it reached. */
async function openPathVerified(path: string, policy: PathPolicy): Promise<{ handle: FileHandle; real: string; stats: Stats }> {
  const handle = await openOrFail(path, LINUX ? O_PATH : O_RDONLY, path);
  try {
    // Both ask the kernel about the one descriptor, so they need not wait for each other: each costs a trip through
    // libuv's thread pool, the most of a small read's time.
    const [real, stats] = await Promise.all([realPathOf(handle, path), handle.stat()]);
    policy.check(real);
    return { handle, real, stats };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The same file again, opened for real I/O through the verified descriptor. */
async function reopen(verified: VerifiedDir, flags: number, shownAs: string): Promise<FileHandle> {
  if (!LINUX) return openOrFail(verified.real, flags, shownAs);
  return openOrFail(fdPath(verified.handle), flags | O_NOCTTY, shownAs);
}

/** A regular file opened for reading (or reading and writing), after its real path passed the policy. */
export async function openFileVerified(path: string, policy: PathPolicy, mode: "read" | "update"): Promise<Opened> {
  const verified = await openPathVerified(path, policy);
  try {
    if (verified.stats.isDirectory()) throw new ActionError("invalid_params", `${path} is a directory`);
    // A FIFO would block and a device may never end or do something on open.
    if (!verified.stats.isFile()) throw new ActionError("invalid_params", `${path} is not a regular file`);
    const handle = await reopen(verified, mode === "read" ? O_RDONLY : O_RDWR, path);
    return { handle, real: verified.real, stats: verified.stats };
  } finally {
    closeInBackground(verified.handle);
  }
}

/** A directory, held open by an O_PATH descriptor, after its real path passed the policy. */
export async function openDirectoryVerified(path: string, policy: PathPolicy): Promise<VerifiedDir> {
  const verified = await openPathVerified(path, policy);
  if (!verified.stats.isDirectory()) {
    await verified.handle.close();
    throw new ActionError("invalid_params", `${path} is not a directory`);
  }
  return { handle: verified.handle, real: verified.real };
}

/** What a path names: a regular file or a directory, checked by its real path. */
export async function statVerified(path: string, policy: PathPolicy): Promise<{ real: string; stats: Stats }> {
  const verified = await openPathVerified(path, policy);
  await verified.handle.close();
  return { real: verified.real, stats: verified.stats };
}

/** The path of an entry inside a verified directory, resolved by the kernel from the descriptor, not from a name. */
export function childPath(dir: VerifiedDir, name: string): string {
  return LINUX ? `${fdPath(dir.handle)}/${name}` : join(dir.real, name);
}

function components(path: string): { root: string; parts: string[] } {
  const { root } = parse(path);
  return { root, parts: path.slice(root.length).split(SEPARATORS).filter((part) => part !== "" && part !== ".") };
}

/**
 * Walks to the parent folder of `path` one component at a time, each step relative to the verified descriptor of
 * the last, creating missing folders (each checked by the policy before it is made, and reopened without following
 * symlinks). `..` after a missing folder is refused: the kernel cannot climb out of a folder that does not exist,
 * and a lexical guess at what it meant is exactly how writes used to escape.
 */
async function parentForCreate(path: string, policy: PathPolicy): Promise<{ dir: VerifiedDir; name: string }> {
  const { root, parts } = components(path);
  const name = parts.pop();
  if (name === undefined || name === "..") throw new ActionError("invalid_params", `${path} does not name a file`);
  let dir: VerifiedDir = { handle: await openOrFail(root, LINUX ? O_PATH | O_DIRECTORY : O_RDONLY, root), real: root };
  try {
    let missing: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      try {
        const next = await open(childPath(dir, parts[i]!), LINUX ? O_PATH | O_DIRECTORY : O_RDONLY);
        const real = await realPathOf(next, join(dir.real, parts[i]!));
        await dir.handle.close();
        dir = { handle: next, real };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw fsFailure(err, path);
        missing = parts.slice(i);
        break;
      }
    }
    if (missing.includes("..")) {
      throw new ActionError("invalid_params", `${path}: '..' follows a folder that does not exist (${join(dir.real, missing[0]!)})`);
    }
    policy.check(join(dir.real, ...missing, name));
    for (const part of missing) {
      const expected = join(dir.real, part);
      policy.check(expected);
      await mkdir(childPath(dir, part)).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fsFailure(err, expected);
      });
      const next = await openOrFail(childPath(dir, part), LINUX ? O_PATH | O_DIRECTORY | O_NOFOLLOW : O_RDONLY, expected);
      const real = await realPathOf(next, expected);
      await dir.handle.close();
      dir = { handle: next, real };
      if (real !== expected) throw new ActionError("tier_refused", `${expected} changed while it was being created`);
    }
    return { dir, name };
  } catch (err) {
    await dir.handle.close();
    throw err;
  }
}

/**
 * A regular file opened for writing (created if missing, with its missing parent folders), truncated, after its
 * real path passed the policy. A symlink at the end of the path is followed one link at a time, each target checked
 * again from its own verified parent, so a dangling link cannot create a file where the policy forbids one.
 */
export async function openFileForWrite(path: string, policy: PathPolicy, links = 0): Promise<Opened> {
  const absolute = isAbsolute(path) ? path : resolve(path);
  const { dir, name } = await parentForCreate(absolute, policy);
  let handle: FileHandle;
  try {
    try {
      handle = await open(childPath(dir, name), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0o666);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ELOOP" && code !== "EMLINK") throw fsFailure(err, path);
      if (links >= MAX_LINKS) throw new ActionError("invalid_params", `${path}: too many levels of symbolic links`);
      const target = await readlink(childPath(dir, name));
      return await openFileForWrite(isAbsolute(target) ? target : join(dir.real, target), policy, links + 1);
    }
  } finally {
    await dir.handle.close();
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new ActionError("invalid_params", `${path} is not a regular file`);
    const real = await realPathOf(handle, join(dir.real, name));
    policy.check(real);
    await handle.truncate(0);
    return { handle, real, stats };
  } catch (err) {
    await handle.close();
    throw err;
  }
}


/**
 * A folder opened for work inside it, created (with its missing parents) when missing, every step through a
 * verified parent as for a new file. An existing symlink at the end is followed (`/srv/app -> /data/app` is a
 * common layout) and what it reaches is judged by its real path; a dangling one is refused, never created through.
 */
export async function openDirectoryForCreate(path: string, policy: PathPolicy): Promise<VerifiedDir> {
  const absolute = isAbsolute(path) ? path : resolve(path);
  const { dir, name } = await parentForCreate(absolute, policy);
  const shownAs = join(dir.real, name);
  try {
    let created: boolean;
    try {
      await mkdir(childPath(dir, name));
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fsFailure(err, shownAs);
      created = false;
    }
    let handle: FileHandle;
    try {
      // Just made by this call: never a link, so it is not followed either.
      handle = await open(childPath(dir, name), (LINUX ? O_PATH : O_RDONLY) | O_DIRECTORY | (created ? O_NOFOLLOW : 0));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new ActionError("not_found", `${shownAs} is a symlink to something that does not exist`);
      if (code === "ENOTDIR") throw new ActionError("invalid_params", `${shownAs} is not a folder`);
      throw fsFailure(err, shownAs);
    }
    try {
      const real = await realPathOf(handle, shownAs);
      policy.check(real);
      if (created && real !== shownAs) throw new ActionError("tier_refused", `${shownAs} changed while it was being created`);
      return { handle, real };
    } catch (err) {
      await handle.close();
      throw err;
    }
  } finally {
    await dir.handle.close();
  }
}
