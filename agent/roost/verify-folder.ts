import { constants } from "node:fs";
import { lstat, open, readlink } from "node:fs/promises";
import { join } from "node:path";
import { ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { readRange, sha256Hex } from "./chunk-hash.ts";

/**
 * Checks a version folder against its manifest without the network: every file's chunks hashed, every folder and
 * symlink in place. Returns what differs (at most `limit` lines); an empty list means the folder holds the version.
 */
export async function verifyFolder(
  folder: string,
  files: readonly ManifestEntry[],
  onChunk: (bytes: number) => void,
  signal: AbortSignal,
  limit = 20,
): Promise<string[]> {
  const problems: string[] = [];
  for (const entry of files) {
    if (problems.length >= limit) break;
    signal.throwIfAborted();
    const path = join(folder, entry.path);
    const info = await lstat(path).catch(() => null);
    if (!info) {
      problems.push(`${entry.path} is missing`);
      continue;
    }
    if (entry.type === "dir") {
      if (!info.isDirectory()) problems.push(`${entry.path} is no longer a folder`);
    } else if (entry.type === "symlink") {
      if (!info.isSymbolicLink() || (await readlink(path)) !== entry.target) problems.push(`${entry.path} no longer links to ${entry.target}`);
    } else if (!info.isFile() || info.size !== entry.size) {
      problems.push(`${entry.path} is not the ${entry.size}-byte file of the version`);
    } else if (!(await chunksMatch(path, entry.chunks, entry.size, onChunk))) {
      problems.push(`${entry.path} was changed on this machine`);
    }
  }
  return problems;
}

async function chunksMatch(path: string, chunks: readonly string[], size: number, onChunk: (bytes: number) => void): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!handle) return false;
  try {
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
