import type { Dirent, Stats } from "node:fs";
import { lstat, open, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import ignore, { type Ignore } from "ignore";
import { ManifestFiles, MAX_MANIFEST_ENTRIES, ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { hashChunks } from "./chunk-hash.ts";
import type { HashCache } from "./hash-cache.ts";

/** The ignore file read from the root of a pushed folder, in gitignore syntax. */
export const IGNORE_FILE = ".roostignore";

export class ScanError extends Error {}

export interface ScanResult {
  files: ManifestEntry[];
  /** Where each chunk can be read again for upload: the first file that holds it. */
  sources: Map<string, { path: string; offset: number; size: number }>;
  /** Things left out that the user may want to know about (sockets, devices, ignored count). */
  notes: string[];
  hashedBytes: number;
}

export interface ScanOptions {
  cache: HashCache;
  /** Called with each piece of a file as it is hashed, for a progress line. */
  onHashed?: (bytes: number) => void;
}

async function loadIgnore(root: string): Promise<Ignore> {
  const rules = ignore();
  try {
    rules.add(await readFile(join(root, IGNORE_FILE), "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw new ScanError(`cannot read ${IGNORE_FILE}: ${(err as Error).message}`);
  }
  return rules;
}

function identity(info: Stats) {
  return { size: info.size, mtimeMs: info.mtimeMs, ctimeMs: info.ctimeMs, ino: info.ino };
}

/**
 * Lists a folder as manifest entries: folders, regular files (cut into chunks and hashed) and symlinks (their
 * target as written), in path order, minus what `.roostignore` excludes. A file that changes while it is read is an
 * error, not a silently torn version. The result is checked with the manifest schema before anything is uploaded,
 * so a symlink leading out of the folder is reported here, by name.
 */
export async function scanFolder(root: string, options: ScanOptions): Promise<ScanResult> {
  const rootInfo = await lstat(root).catch(() => null);
  if (!rootInfo?.isDirectory()) throw new ScanError(`${root} is not a folder`);
  const rules = await loadIgnore(root);
  const files: ManifestEntry[] = [];
  const sources = new Map<string, { path: string; offset: number; size: number }>();
  const notes: string[] = [];
  let ignored = 0;
  let hashedBytes = 0;

  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new ScanError(`cannot list ${dir}: ${(err as Error).message}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (rules.ignores(entry.isDirectory() ? `${path}/` : path)) {
        ignored += 1;
        continue;
      }
      if (files.length >= MAX_MANIFEST_ENTRIES) throw new ScanError(`more than ${MAX_MANIFEST_ENTRIES} entries; leave some out with ${IGNORE_FILE}`);
      const info = await lstat(full);
      if (info.isSymbolicLink()) {
        files.push({ type: "symlink", path, target: await readlink(full) });
      } else if (info.isDirectory()) {
        files.push({ type: "dir", path, mode: info.mode & 0o777 });
        await walk(full, path);
      } else if (info.isFile()) {
        files.push(await hashFile(full, path, info, options, (bytes) => (hashedBytes += bytes)));
      } else {
        notes.push(`${path} is not a file, folder or symlink; left out`);
      }
    }
  };
  await walk(root, "");

  for (const entry of files) {
    if (entry.type !== "file") continue;
    entry.chunks.forEach((hash, i) => {
      if (!sources.has(hash)) {
        const offset = i * ROOST_CHUNK_BYTES;
        sources.set(hash, { path: join(root, entry.path), offset, size: Math.min(ROOST_CHUNK_BYTES, entry.size - offset) });
      }
    });
  }
  const checked = ManifestFiles.safeParse(files);
  if (!checked.success) {
    const lines = checked.error.issues.slice(0, 10).map((i) => {
      const index = typeof i.path[0] === "number" ? i.path[0] : -1;
      return `  ${files[index]?.path ?? "(folder)"}: ${i.message}`;
    });
    throw new ScanError(`the folder cannot be pushed as it is:\n${lines.join("\n")}\n(fix these, or leave them out with ${IGNORE_FILE})`);
  }
  if (ignored) notes.push(`${ignored} path(s) left out by ${IGNORE_FILE}`);
  options.cache.save();
  return { files, sources, notes, hashedBytes };
}

async function hashFile(full: string, path: string, before: Stats, options: ScanOptions, counted: (bytes: number) => void): Promise<ManifestEntry> {
  const mode = before.mode & 0o777;
  const cached = options.cache.lookup(path, identity(before));
  if (cached) {
    options.cache.remember(path, identity(before), cached);
    return { type: "file", path, mode, size: before.size, chunks: cached };
  }
  const handle = await open(full, "r").catch((err: Error) => {
    throw new ScanError(`cannot read ${path}: ${err.message}`);
  });
  try {
    const { size, chunks } = await hashChunks(handle, (bytes) => {
      counted(bytes);
      options.onHashed?.(bytes);
    });
    const after = await handle.stat();
    if (size !== before.size || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new ScanError(`${path} changed while it was read; push again once it is still`);
    }
    options.cache.remember(path, identity(before), chunks);
    return { type: "file", path, mode, size, chunks };
  } finally {
    await handle.close();
  }
}
