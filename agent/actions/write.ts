import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { ActionParams } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function contentBytes(params: ActionParams<"write">): Buffer {
  if (params.encoding === "utf8") return Buffer.from(params.content, "utf8");
  const compact = params.content.replace(/\s+/g, "");
  // Buffer.from silently skips characters that are not base64; a typo must not write a corrupted file.
  if (!BASE64.test(compact) || compact.length % 4 === 1) throw new ActionError("invalid_params", "content is not valid base64");
  return Buffer.from(compact, "base64");
}

export async function write(params: ActionParams<"write">, ctx: ActionContext): Promise<ActionOutcome> {
  const bytes = contentBytes(params);
  try {
    await mkdir(dirname(params.path), { recursive: true });
    await writeFile(params.path, bytes);
  } catch (err) {
    throw fsFailure(err, params.path);
  }
  ctx.out.write(`wrote ${bytes.length} bytes to ${params.path}`);
  return {};
}
