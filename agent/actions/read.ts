import type { FileHandle } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_FRAME_BYTES, MAX_READ_BYTES } from "../../protocol/limits.ts";
import { closeInBackground, openFileVerified } from "../sandbox/verified-fs.ts";
import type { ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";
import type { FileActionContext } from "./file-action-context.ts";
import { imageTypeOf } from "./image-type.ts";
import { looksBinary, splitLines } from "./text.ts";

/** An image travels base64-encoded inside one result frame, so it must fit there with room for the envelope. */
export const MAX_IMAGE_BYTES = Math.floor(((MAX_FRAME_BYTES - 64 * 1024) * 3) / 4);

const READ_PIECE_BYTES = 64 * 1024;

function tooLarge(path: string, bytes: number): ActionError {
  return new ActionError("too_large", `${path} is ${bytes} bytes; read is limited to ${MAX_READ_BYTES} bytes`);
}

async function readVerified(params: ActionParams<"read">, ctx: FileActionContext): Promise<Buffer> {
  const opened = await openFileVerified(params.path, ctx.policy, "read");
  try {
    const size = opened.stats.size;
    if (size > MAX_READ_BYTES) throw tooLarge(params.path, size);
    const bytes = await readAll(opened.handle, size).catch((err: unknown) => {
      throw fsFailure(err, params.path);
    });
    if (bytes.length > MAX_READ_BYTES) throw tooLarge(params.path, bytes.length);
    return bytes;
  } finally {
    closeInBackground(opened.handle);
  }
}

/**
 * The file's bytes in one read of the size it had when it was verified, plus one byte to notice that it grew; a file
 * that grew, or reports no size (as those of /proc do), is read on to its end in pieces, within the same limit.
 */
async function readAll(handle: FileHandle, size: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let total = 0;
  if (size > 0) {
    const first = Buffer.allocUnsafe(size + 1);
    total = (await handle.read(first, 0, size + 1, 0)).bytesRead;
    if (total <= size) return first.subarray(0, total);
    pieces.push(first);
  }
  // Whole pieces (some /proc files take only aligned reads), and never more than one piece past the limit is held,
  // however much the file goes on giving.
  while (total <= MAX_READ_BYTES) {
    const piece = Buffer.allocUnsafe(READ_PIECE_BYTES);
    const { bytesRead } = await handle.read(piece, 0, READ_PIECE_BYTES, total);
    if (bytesRead === 0) break;
    pieces.push(piece.subarray(0, bytesRead));
    total += bytesRead;
  }
  return Buffer.concat(pieces, total);
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
