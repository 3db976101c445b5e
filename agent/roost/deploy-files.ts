import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { ActionError, fsFailure } from "../actions/action-error.ts";
import { chmodDir, entryIn, FolderWalker, mkdirIn, openIn, readLinkIn, removeIn, renameIn, splitRelative, symlinkIn } from "../sandbox/verified-dir.ts";
import type { VerifiedDir } from "../sandbox/verified-fs.ts";
import type { ChunkSupply } from "./chunk-supply.ts";
import { CURRENT, CURRENT_TARGET, linkTarget } from "./deploy-layout.ts";

/** Folders the manifest implies but does not list get this mode. */
const DEFAULT_DIR_MODE = 0o755;
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

function depth(path: string): number {
  return path.split("/").length;
}

function ancestors(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/**
 * Writes a version into a fresh staging folder (made by the caller with mode 0700, so no other user can put a link
 * into it while it is filled). Every entry is made from its parent folder's descriptor: folders before the files in
 * them, every file created with O_EXCL|O_NOFOLLOW (an existing name, a link included, fails), symlinks last (nothing
 * is ever written through one), and the folder modes of the manifest only at the end (a read-only folder would
 * refuse the files still to come).
 */
export async function assemble(
  staging: VerifiedDir,
  files: readonly ManifestEntry[],
  supply: ChunkSupply,
  onChunk: (bytes: number) => void,
  signal: AbortSignal,
): Promise<void> {
  const dirModes = new Map<string, number>();
  for (const entry of files) {
    for (const dir of ancestors(entry.path)) if (!dirModes.has(dir)) dirModes.set(dir, DEFAULT_DIR_MODE);
    if (entry.type === "dir") dirModes.set(entry.path, entry.mode);
  }
  const dirs = [...dirModes.keys()].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : 1));
  const walker = new FolderWalker(staging);
  try {
    for (const dir of dirs) {
      const { folder, name } = splitRelative(dir);
      await walker.within(folder, (parent) => mkdirIn(parent, name, 0o700));
    }
    for (const entry of files) {
      if (entry.type !== "file") continue;
      signal.throwIfAborted();
      const { folder, name } = splitRelative(entry.path);
      await walker.within(folder, async (parent) => {
        const handle = await openIn(parent, name, NEW_FILE, 0o600);
        try {
          for (let i = 0; i < entry.chunks.length; i++) {
            signal.throwIfAborted();
            const size = Math.min(ROOST_CHUNK_BYTES, entry.size - i * ROOST_CHUNK_BYTES);
            const data = await supply.get(entry.chunks[i]!, size);
            await handle.write(data, 0, data.byteLength, i * ROOST_CHUNK_BYTES);
            onChunk(size);
          }
          await handle.chmod(entry.mode);
        } catch (err) {
          throw fsFailure(err, `${staging.real}/${entry.path}`);
        } finally {
          await handle.close();
        }
      });
    }
    for (const entry of files) {
      if (entry.type !== "symlink") continue;
      const { folder, name } = splitRelative(entry.path);
      await walker.within(folder, (parent) => symlinkIn(parent, name, entry.target));
    }
    for (const dir of [...dirs].reverse()) await walker.within(dir, (folder) => chmodDir(folder, dirModes.get(dir)!));
  } finally {
    await walker.close();
  }
  await chmodDir(staging, DEFAULT_DIR_MODE);
}

/** A name under versions/ for a new folder of `version`: the number itself, or with a suffix when that is taken. */
export async function freshFolderName(versions: VerifiedDir, version: number): Promise<string> {
  const plain = String(version);
  if (!(await entryIn(versions, plain))) return plain;
  return `${version}-${randomBytes(4).toString("hex")}`;
}

/**
 * Points `current` at a version folder in one atomic step: a new symlink is made beside it (inside the verified
 * deployment folder) and renamed over it, so a reader sees the old version or the new one, never a missing or
 * half-written link. rename replaces the link itself; whatever the old one pointed to is never touched.
 */
export async function switchCurrent(root: VerifiedDir, folder: string): Promise<void> {
  await requireReplaceableCurrent(root);
  const temp = `.${CURRENT}-${randomBytes(6).toString("hex")}`;
  await symlinkIn(root, temp, linkTarget(folder));
  try {
    await renameIn(root, temp, root, CURRENT);
  } catch (err) {
    await removeIn(root, temp);
    throw err;
  }
}

/**
 * `current` must be absent or roost's own link into versions/: a real folder of that name is someone's data, and a
 * link elsewhere (to /etc, say) is not roost's to replace. Either is refused and left as it is.
 */
export async function requireReplaceableCurrent(root: VerifiedDir): Promise<void> {
  const info = await entryIn(root, CURRENT);
  if (!info) return;
  const shown = `${root.real}/${CURRENT}`;
  if (!info.isSymbolicLink()) throw new ActionError("conflict", `${shown} exists and is not a symlink; move it away first`);
  const target = await readLinkIn(root, CURRENT);
  if (target === null || !CURRENT_TARGET.test(target)) {
    throw new ActionError("conflict", `${shown} points to ${target ?? "?"}, not to a version in versions/; move it away first`);
  }
}

/** The folder `current` points to now, if it points into versions/. */
export async function currentFolder(root: VerifiedDir): Promise<string | null> {
  const target = await readLinkIn(root, CURRENT);
  return CURRENT_TARGET.exec(target ?? "")?.[1] ?? null;
}
