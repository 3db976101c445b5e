export type ReceivedChunk = { ok: true; bytes: Uint8Array } | { ok: false; status: 400 | 413 | 422; code: string; message: string };

function hex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads an uploaded chunk, hashing it as it arrives and refusing it the moment it grows past `maxBytes`. What the
 * client says the chunk is (the hash in the URL) is only compared with what was hashed here; a chunk whose bytes
 * hash to anything else is refused and nothing is stored.
 */
export async function receiveChunk(body: ReadableStream<Uint8Array> | null, expectedHash: string, maxBytes: number): Promise<ReceivedChunk> {
  if (!body) return { ok: false, status: 400, code: "empty_chunk", message: "the request has no body" };
  const digest = new crypto.DigestStream("SHA-256");
  const writer = digest.getWriter();
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      await writer.abort();
      return { ok: false, status: 413, code: "chunk_too_large", message: `a chunk is at most ${maxBytes} bytes` };
    }
    parts.push(value);
    await writer.write(value);
  }
  await writer.close();
  if (size === 0) return { ok: false, status: 400, code: "empty_chunk", message: "a chunk has at least one byte (empty files have no chunks)" };
  const actual = hex(await digest.digest);
  if (actual !== expectedHash) {
    return { ok: false, status: 422, code: "chunk_mismatch", message: `the bytes sent hash to ${actual}, not ${expectedHash}; nothing was stored` };
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.byteLength;
  }
  return { ok: true, bytes };
}
