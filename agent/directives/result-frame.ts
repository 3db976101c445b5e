import { MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import type { ResultMessage } from "../../protocol/node-messages.ts";
import { utf8Head } from "./utf8.ts";

/** Room kept for the truncation note and for error when the output is shrunk. */
const MARGIN_BYTES = 16 * 1024;
const NOTE = "\n[output truncated to fit one frame]";

function frameBytes(message: ResultMessage): number {
  return Buffer.byteLength(JSON.stringify(message));
}

/**
 * The result, shrunk if needed so its frame stays under MAX_FRAME_BYTES. Output within MAX_RESULT_OUTPUT_BYTES can
 * still outgrow a frame once JSON escapes it (a control character becomes six bytes).
 */
export function fitResultFrame(result: ResultMessage): ResultMessage {
  let size = frameBytes(result);
  if (size <= MAX_FRAME_BYTES) return result;
  const overhead = frameBytes({ ...result, output: "" });
  if (overhead + MARGIN_BYTES > MAX_FRAME_BYTES) {
    const { data: _tooBig, ...rest } = result;
    return { ...rest, output: "", success: false, errorCode: "too_large", error: `the result (${size} bytes) does not fit in one frame` };
  }
  const budget = MAX_FRAME_BYTES - MARGIN_BYTES - overhead;
  let keep = Buffer.byteLength(result.output);
  for (;;) {
    // Escaping is uneven across the text, so estimate from the last attempt and shrink until it fits.
    keep = Math.max(0, Math.min(keep - 1, Math.floor((keep * budget) / (size - overhead))));
    const fitted = { ...result, output: utf8Head(result.output, keep) + NOTE, truncated: true };
    size = frameBytes(fitted);
    if (size <= MAX_FRAME_BYTES) return fitted;
  }
}
