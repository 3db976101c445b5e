import { randomBytes } from "node:crypto";
import type { Dirent } from "node:fs";
import { chmod, lstat, mkdir, open, readdir, rename, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import type { ChunkSupply } from "./chunk-supply.ts";
import type { DeployLayout } from "./deploy-layout.ts";

/** Folders the manifest implies but does not list get this mode. */
const DEFAULT_DIR_MODE = 0o755;

function depth(path: string): number {
  return path.split("/").length;
}

function ancestors(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/**
 * Writes a version into a fresh staging folder. The folder is created here with mode 0700, so no other user can
 * put a link into it while it is filled; every file is created with O_EXCL (an existing name, a link included,
 * fails), folders before the files in them, symlinks last (nothing is ever written through one), and the folder
 * modes of the manifest only at the end (a read-only folder would refuse the files still to come).
 */
export async function assemble(
  staging: string,
  files: readonly ManifestEntry[],
  supply: ChunkSupply,
  onChunk: (bytes: number) => void,
  signal: AbortSignal,
): Promise<void> {
  await mkdir(staging, { mode: 0o700 });
  const dirModes = new Map<string, number>();
  for (const entry of files) {
    for (const dir of ancestors(entry.path)) if (!dirModes.has(dir)) dirModes.set(dir, DEFAULT_DIR_MODE);
    if (entry.type === "dir") dirModes.set(entry.path, entry.mode);
  }
  const dirs = [...dirModes.keys()].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1));
  for (const dir of dirs) await mkdir(join(staging, dir), { mode: 0o700 });

  for (const entry of files) {
    if (entry.type !== "file") continue;
    signal.throwIfAborted();
    const handle = await open(join(staging, entry.path), "wx", 0o600);
    try {
      for (let i = 0; i < entry.chunks.length; i++) {
        signal.throwIfAborted();
        const size = Math.min(ROOST_CHUNK_BYTES, entry.size - i * ROOST_CHUNK_BYTES);
        const data = await supply.get(entry.chunks[i]!, size);
        await handle.write(data, 0, data.byteLength, i * ROOST_CHUNK_BYTES);
        onChunk(size);
      }
    } finally {
      await handle.close();
    }
    await chmod(join(staging, entry.path), entry.mode);
  }
  for (const entry of files) if (entry.type === "symlink") await symlink(entry.target, join(staging, entry.path));
  for (const dir of [...dirs].reverse()) await chmod(join(staging, dir), dirModes.get(dir)!);
  await chmod(staging, DEFAULT_DIR_MODE);
}

/** A name under versions/ for a new folder of `version`: the number itself, or with a suffix when that is taken. */
export async function freshFolderName(layout: DeployLayout, version: number): Promise<string> {
  const plain = String(version);
  if (!(await exists(layout.folder(plain)))) return plain;
  return `${version}-${randomBytes(4).toString("hex")}`;
}

/**
 * Points `current` at a version folder in one atomic step: a new symlink is made beside it and renamed over it,
 * so a reader sees the old version or the new one, never a missing or half-written link.
 */
export async function switchCurrent(layout: DeployLayout, folder: string): Promise<void> {
  await requireReplaceableCurrent(layout);
  const temp = join(layout.root, `.current-${randomBytes(6).toString("hex")}`);
  await symlink(layout.link(folder), temp);
  try {
    await rename(temp, layout.current);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** `current` must be absent or a symlink: a real folder of that name is someone's data, never replaced. */
export async function requireReplaceableCurrent(layout: DeployLayout): Promise<void> {
  try {
    const info = await lstat(layout.current);
    if (!info.isSymbolicLink()) throw new ActionError("conflict", `${layout.current} exists and is not a symlink; move it away first`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * Removes a folder tree that may contain read-only folders (a version's own modes). Links are removed, never
 * followed: only what lies inside the tree is touched.
 */
export async function removeTree(path: string): Promise<void> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return;
  }
  if (info.isDirectory()) await makeWritable(path);
  await rm(path, { recursive: true, force: true });
}

async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) await makeWritable(join(dir, e.name));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
