import { randomBytes } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { chmod, lstat, mkdir, open, readdir, readlink, rename, rmdir, symlink, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ActionError, fsFailure } from "../actions/action-error.ts";
import { childPath, fdPath, realPathOf, type VerifiedDir } from "./verified-fs.ts";

/**
 * Work inside a folder held by a verified descriptor (see verified-fs.ts), one name at a time: every entry is reached
 * from its parent's descriptor (`/proc/self/fd/N/name` on Linux, which has no `openat` in Node), no symlink inside is
 * ever followed (O_NOFOLLOW on every open, links are read, renamed and removed as links), and every folder opened is
 * kept only if the kernel puts it where its parent says. So whatever is swapped in beneath the folder, nothing is
 * read, written or removed outside it.
 */

const LINUX = process.platform === "linux";
const O_PATH = 0o10000000;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW } = constants;
/** A folder opened where it stands, never through a symlink. */
const SUBDIR_FLAGS = (LINUX ? O_PATH : O_RDONLY) | O_DIRECTORY | O_NOFOLLOW;

/** The path by which the kernel reaches the folder itself: its descriptor on Linux. */
export function dirPath(dir: VerifiedDir): string {
  return LINUX ? fdPath(dir.handle) : dir.real;
}

function entry(dir: VerifiedDir, name: string): { at: string; shown: string } {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    throw new ActionError("invalid_params", `${JSON.stringify(name)} is not a single file name`);
  }
  return { at: childPath(dir, name), shown: join(dir.real, name) };
}

function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

async function linkRefusal(at: string, shown: string, what: string): Promise<ActionError> {
  const info = await lstat(at).catch(() => null);
  return new ActionError("conflict", info?.isSymbolicLink() ? `${shown} is a symlink, which is never followed here` : `${shown} is not ${what}`);
}

/**
 * The folder `name` inside `dir`, opened without following a symlink and kept only if its real path is where `dir`
 * says. With `create`, it is made first (with that mode) when missing.
 */
export async function openSubdir(dir: VerifiedDir, name: string, options: { create?: number } = {}): Promise<VerifiedDir> {
  const { at, shown } = entry(dir, name);
  if (options.create !== undefined) {
    await mkdir(at, options.create).catch((err: unknown) => {
      if (codeOf(err) !== "EEXIST") throw fsFailure(err, shown);
    });
  }
  let handle: FileHandle;
  try {
    handle = await open(at, SUBDIR_FLAGS);
  } catch (err) {
    if (codeOf(err) === "ENOTDIR" || codeOf(err) === "ELOOP") throw await linkRefusal(at, shown, "a folder");
    throw fsFailure(err, shown);
  }
  const real = await realPathOf(handle, shown).catch(() => null);
  if (real !== shown) {
    await handle.close();
    throw new ActionError("conflict", `${shown} moved while it was opened`);
  }
  return { handle, real };
}

/** The file `name` inside `dir`, opened with `flags`; a symlink of that name is refused, never followed. */
export async function openIn(dir: VerifiedDir, name: string, flags: number, mode?: number): Promise<FileHandle> {
  const { at, shown } = entry(dir, name);
  try {
    return await open(at, flags | O_NOFOLLOW, mode);
  } catch (err) {
    if (codeOf(err) === "ELOOP" || codeOf(err) === "EMLINK") throw await linkRefusal(at, shown, "a file");
    throw fsFailure(err, shown);
  }
}

/** What `name` inside `dir` is (the entry itself, a link not followed), or null when there is none. */
export async function entryIn(dir: VerifiedDir, name: string): Promise<Stats | null> {
  const { at, shown } = entry(dir, name);
  try {
    return await lstat(at);
  } catch (err) {
    if (codeOf(err) === "ENOENT") return null;
    throw fsFailure(err, shown);
  }
}

export async function readLinkIn(dir: VerifiedDir, name: string): Promise<string | null> {
  const { at } = entry(dir, name);
  return readlink(at).catch(() => null);
}

/** The whole of the regular file `name` inside `dir`, or null when there is none. */
export async function readFileIn(dir: VerifiedDir, name: string): Promise<Buffer | null> {
  let handle: FileHandle;
  try {
    handle = await openIn(dir, name, O_RDONLY);
  } catch (err) {
    if (err instanceof ActionError && err.code === "not_found") return null;
    throw err;
  }
  try {
    if (!(await handle.stat()).isFile()) throw new ActionError("conflict", `${join(dir.real, name)} is not a regular file`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to a new file beside `name` and renames it over `name`: a reader sees the old file or the new one. */
export async function replaceFileIn(dir: VerifiedDir, name: string, data: Uint8Array | string, mode: number): Promise<void> {
  const temp = `.${name}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await openIn(dir, temp, O_WRONLY | O_CREAT | O_EXCL, mode);
  try {
    await handle.writeFile(data);
  } catch (err) {
    await handle.close();
    await removeIn(dir, temp);
    throw fsFailure(err, join(dir.real, name));
  }
  await handle.close();
  await renameIn(dir, temp, dir, name).catch(async (err: unknown) => {
    await removeIn(dir, temp);
    throw err;
  });
}

/** Renames an entry (a link as a link) from one verified folder to another; what was at the new name is replaced. */
export async function renameIn(from: VerifiedDir, fromName: string, to: VerifiedDir, toName: string): Promise<void> {
  const source = entry(from, fromName);
  const target = entry(to, toName);
  try {
    await rename(source.at, target.at);
  } catch (err) {
    throw fsFailure(err, target.shown);
  }
}

export async function symlinkIn(dir: VerifiedDir, name: string, target: string): Promise<void> {
  const { at, shown } = entry(dir, name);
  try {
    await symlink(target, at);
  } catch (err) {
    throw fsFailure(err, shown);
  }
}

/** Makes a new folder `name` inside `dir`; an existing entry of that name (a link included) fails. */
export async function mkdirIn(dir: VerifiedDir, name: string, mode: number): Promise<void> {
  const { at, shown } = entry(dir, name);
  try {
    await mkdir(at, mode);
  } catch (err) {
    if (codeOf(err) === "EEXIST") throw new ActionError("conflict", `${shown} exists already`);
    throw fsFailure(err, shown);
  }
}

export async function listIn(dir: VerifiedDir): Promise<string[]> {
  try {
    return await readdir(dirPath(dir));
  } catch (err) {
    throw fsFailure(err, dir.real);
  }
}

export async function chmodDir(dir: VerifiedDir, mode: number): Promise<void> {
  try {
    await chmod(dirPath(dir), mode);
  } catch (err) {
    throw fsFailure(err, dir.real);
  }
}

/**
 * Removes `name` inside `dir` and, for a folder, everything in it, folder by folder through descriptors: a link is
 * removed as a link, a folder swapped for a link while this runs is refused rather than entered, and read-only
 * folders (a version's own modes) are opened up first. Nothing outside `dir` can be touched.
 */
export async function removeIn(dir: VerifiedDir, name: string): Promise<void> {
  const info = await entryIn(dir, name);
  if (!info) return;
  const { at, shown } = entry(dir, name);
  if (!info.isDirectory()) {
    await unlink(at).catch((err: unknown) => {
      if (codeOf(err) !== "ENOENT") throw fsFailure(err, shown);
    });
    return;
  }
  const sub = await openSubdir(dir, name);
  try {
    await chmodDir(sub, 0o700);
    for (const child of await listIn(sub)) await removeIn(sub, child);
  } finally {
    await sub.handle.close();
  }
  await rmdir(at).catch((err: unknown) => {
    if (codeOf(err) !== "ENOENT") throw fsFailure(err, shown);
  });
}

/**
 * Folders beneath a verified root by relative path (`a/b/c`), each component opened from the last without following
 * a symlink. The chain of the last folder asked for stays open, so a walk in path order (a manifest's) opens each
 * folder once rather than once per file. Callers take turns: a folder is only used inside `within`.
 */
export class FolderWalker {
  private chain: { name: string; dir: VerifiedDir }[] = [];
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly root: VerifiedDir) {}

  /** Runs `work` with the folder at `relative` ("" for the root); the folder is not to be kept beyond it. */
  within<T>(relative: string, work: (dir: VerifiedDir) => Promise<T>): Promise<T> {
    const next = this.turn.then(async () => work(await this.folder(relative)));
    this.turn = next.catch(() => undefined);
    return next;
  }

  private async folder(relative: string): Promise<VerifiedDir> {
    const names = relative === "" ? [] : relative.split("/");
    let shared = 0;
    while (shared < this.chain.length && shared < names.length && this.chain[shared]!.name === names[shared]) shared++;
    await this.closeFrom(shared);
    for (let i = shared; i < names.length; i++) {
      const parent = i === 0 ? this.root : this.chain[i - 1]!.dir;
      this.chain.push({ name: names[i]!, dir: await openSubdir(parent, names[i]!) });
    }
    return this.chain.at(-1)?.dir ?? this.root;
  }

  private async closeFrom(index: number): Promise<void> {
    for (const link of this.chain.splice(index).reverse()) await link.dir.handle.close();
  }

  /** Closes every folder it holds (the root stays with its owner). */
  async close(): Promise<void> {
    await this.turn;
    await this.closeFrom(0);
  }
}

/** The folder part and the name of a relative path: `a/b/c` → `a/b`, `c`. */
export function splitRelative(relative: string): { folder: string; name: string } {
  const at = relative.lastIndexOf("/");
  return at < 0 ? { folder: "", name: relative } : { folder: relative.slice(0, at), name: relative.slice(at + 1) };
}
