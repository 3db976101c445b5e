import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_FRAME_BYTES, MAX_READ_BYTES } from "../../protocol/limits.ts";
import type { FileHandle } from "node:fs/promises";
import { closeInBackground, openFileVerified } from "../sandbox/verified-fs.ts";
import type { ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";
import type { FileActionContext } from "./file-action-context.ts";
import { imageTypeOf } from "./image-type.ts";
import { looksBinary, splitLines } from "./text.ts";

/** An image travels base64-encoded inside one result frame, so it must fit there with room for the envelope. */
export const MAX_IMAGE_BYTES = Math.floor(((MAX_FRAME_BYTES - 64 * 1024) * 3) / 4);

function tooLarge(path: string, size: number): ActionError {
  return new ActionError("too_large", `${path} is ${size} bytes; read is limited to ${MAX_READ_BYTES} bytes`);
}

/**
 * Reads the whole file with as few thread-pool round trips as it takes: the size is the one the verified open
 * already took (no second fstat), and a read that comes back short of its buffer is the end of a regular file. A
 * file that grew meanwhile is read on to its end, within the same limit.
 */
async function readToEnd(handle: FileHandle, size: number, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  let want = Math.min(size, MAX_READ_BYTES) + 1;
  for (;;) {
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, want, null).catch((err: unknown) => {
      throw fsFailure(err, path);
    });
    total += bytesRead;
    if (total > MAX_READ_BYTES) throw tooLarge(path, total);
    chunks.push(buffer.subarray(0, bytesRead));
    if (bytesRead < want) return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
    want = 64 * 1024;
  }
}

async function readVerified(params: ActionParams<"read">, ctx: FileActionContext): Promise<Buffer> {
  const opened = await openFileVerified(params.path, ctx.policy, "read");
  try {
    if (opened.stats.size > MAX_READ_BYTES) throw tooLarge(params.path, opened.stats.size);
    return await readToEnd(opened.handle, opened.stats.size, params.path);
  } finally {
    closeInBackground(opened.handle);
  }
}

export async function read(params: ActionParams<"read">, ctx: FileActionContext): Promise<ActionOutcome> {
  const bytes = await readVerified(params, ctx).catch((err: unknown) => {
    if (err instanceof ActionError && err.code === "invalid_params" && err.message.endsWith("is a directory")) {
      throw new ActionError("invalid_params", `${params.path} is a directory; use glob to list it`);
    }
    throw err;
  });

  const mediaType = imageTypeOf(bytes);
  if (mediaType) {
    if (bytes.length > MAX_IMAGE_BYTES) {
      throw new ActionError("too_large", `${params.path} is a ${bytes.length}-byte image; at most ${MAX_IMAGE_BYTES} bytes can be sent`);
    }
    ctx.out.write(`${params.path}: ${mediaType}, ${bytes.length} bytes`);
    return { data: { kind: "image", mediaType, base64: bytes.toString("base64") } };
  }
  if (looksBinary(bytes)) throw new ActionError("invalid_params", `${params.path} is a binary file; read shows text and images only`);

  const lines = splitLines(bytes.toString("utf8"));
  if (params.offset > Math.max(lines.length, 1)) {
    throw new ActionError("invalid_params", `offset ${params.offset} is past the end of ${params.path} (${lines.length} lines)`);
  }
  const first = params.offset - 1;
  const shown = lines.slice(first, first + params.limit);
  ctx.out.write(shown.map((line, i) => `${String(first + i + 1).padStart(6)}\t${line}`).join("\n"));
  return {};
}
