import { readFile } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_FRAME_BYTES, MAX_READ_BYTES } from "../../protocol/limits.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";
import { statOrFail } from "./fs-checks.ts";
import { imageTypeOf } from "./image-type.ts";
import { looksBinary, splitLines } from "./text.ts";

/** An image travels base64-encoded inside one result frame, so it must fit there with room for the envelope. */
export const MAX_IMAGE_BYTES = Math.floor(((MAX_FRAME_BYTES - 64 * 1024) * 3) / 4);

export async function read(params: ActionParams<"read">, ctx: ActionContext): Promise<ActionOutcome> {
  const info = await statOrFail(params.path);
  if (info.isDirectory()) throw new ActionError("invalid_params", `${params.path} is a directory; use glob to list it`);
  // A FIFO or device would block or never end.
  if (!info.isFile()) throw new ActionError("invalid_params", `${params.path} is not a regular file`);
  if (info.size > MAX_READ_BYTES) {
    throw new ActionError("too_large", `${params.path} is ${info.size} bytes; read is limited to ${MAX_READ_BYTES} bytes`);
  }
  const bytes = await readFile(params.path).catch((err: unknown) => {
    throw fsFailure(err, params.path);
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
