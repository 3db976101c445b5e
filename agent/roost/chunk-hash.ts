import { createHash } from "node:crypto";
import { open, type FileHandle } from "node:fs/promises";
import { ROOST_CHUNK_BYTES } from "../../protocol/roost-manifest.ts";

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Reads exactly `length` bytes at `offset`, or fewer only at the end of the file. */
export async function readRange(handle: FileHandle, offset: number, length: number, into?: Buffer): Promise<Buffer> {
  const buffer = into && into.byteLength >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

export interface ChunkedFile {
  size: number;
  chunks: string[];
}

/**
 * Cuts an open file into ROOST_CHUNK_BYTES pieces and hashes each one. The size is what was read, not what a stat
 * said earlier: a file that grows or shrinks while it is read is hashed as read, and the caller compares.
 */
export async function hashChunks(handle: FileHandle, onChunk?: (bytes: number) => void): Promise<ChunkedFile> {
  const buffer = Buffer.allocUnsafe(ROOST_CHUNK_BYTES);
  const chunks: string[] = [];
  let size = 0;
  for (;;) {
    const piece = await readRange(handle, size, ROOST_CHUNK_BYTES, buffer);
    if (piece.byteLength === 0) break;
    chunks.push(sha256Hex(piece));
    size += piece.byteLength;
    onChunk?.(piece.byteLength);
    if (piece.byteLength < ROOST_CHUNK_BYTES) break;
  }
  return { size, chunks };
}

export async function hashFileChunks(path: string, onChunk?: (bytes: number) => void): Promise<ChunkedFile> {
  const handle = await open(path, "r");
  try {
    return await hashChunks(handle, onChunk);
  } finally {
    await handle.close();
  }
}
