import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import { entryIn, FolderWalker, openIn, readLinkIn, splitRelative } from "../sandbox/verified-dir.ts";
import type { VerifiedDir } from "../sandbox/verified-fs.ts";
import { readRange, sha256Hex } from "./chunk-hash.ts";

/** O_NONBLOCK: a FIFO put in a kept folder must not hang the check on open. */
const READ_ONLY = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * Checks a version folder against its manifest without the network: every file's chunks hashed, every folder and
 * symlink in place, each entry reached from its parent's descriptor without following a symlink. Returns what
 * differs (at most `limit` lines); an empty list means the folder holds the version.
 */
export async function verifyFolder(
  folder: VerifiedDir,
  files: readonly ManifestEntry[],
  onChunk: (bytes: number) => void,
  signal: AbortSignal,
  limit = 20,
): Promise<string[]> {
  const problems: string[] = [];
  const walker = new FolderWalker(folder);
  try {
    for (const entry of files) {
      if (problems.length >= limit) break;
      signal.throwIfAborted();
      const { folder: parent, name } = splitRelative(entry.path);
      const problem = await walker.within(parent, (dir) => check(dir, name, entry, onChunk)).catch((err: unknown) => {
        if (err instanceof ActionError) return `${entry.path}: a folder on the way is missing or not a folder`;
        throw err;
      });
      if (problem) problems.push(problem);
    }
  } finally {
    await walker.close();
  }
  return problems;
}

async function check(dir: VerifiedDir, name: string, entry: ManifestEntry, onChunk: (bytes: number) => void): Promise<string | null> {
  const info = await entryIn(dir, name);
  if (!info) return `${entry.path} is missing`;
  if (entry.type === "dir") return info.isDirectory() ? null : `${entry.path} is no longer a folder`;
  if (entry.type === "symlink") {
    return info.isSymbolicLink() && (await readLinkIn(dir, name)) === entry.target ? null : `${entry.path} no longer links to ${entry.target}`;
  }
  if (!info.isFile() || info.size !== entry.size) return `${entry.path} is not the ${entry.size}-byte file of the version`;
  return (await chunksMatch(dir, name, entry.chunks, entry.size, onChunk)) ? null : `${entry.path} was changed on this machine`;
}

async function chunksMatch(dir: VerifiedDir, name: string, chunks: readonly string[], size: number, onChunk: (bytes: number) => void): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await openIn(dir, name, READ_ONLY);
  } catch {
    return false;
  }
  try {
    const info = await handle.stat();
    if (!info.isFile() || info.size !== size) return false;
    const buffer = Buffer.allocUnsafe(ROOST_CHUNK_BYTES);
    for (let i = 0; i < chunks.length; i++) {
      const length = Math.min(ROOST_CHUNK_BYTES, size - i * ROOST_CHUNK_BYTES);
      const data = await readRange(handle, i * ROOST_CHUNK_BYTES, length, buffer);
      onChunk(length);
      if (data.byteLength !== length || sha256Hex(data) !== chunks[i]) return false;
    }
    return true;
  } finally {
    await handle.close();
  }
}
