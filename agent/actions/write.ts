import type { FileHandle } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { openFileForWrite } from "../sandbox/verified-fs.ts";
import type { ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";
import type { FileActionContext } from "./file-action-context.ts";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function contentBytes(params: ActionParams<"write">): Buffer {
  if (params.encoding === "utf8") return Buffer.from(params.content, "utf8");
  const compact = params.content.replace(/\s+/g, "");
  // Buffer.from silently skips characters that are not base64; a typo must not write a corrupted file.
  if (!BASE64.test(compact) || compact.length % 4 === 1) throw new ActionError("invalid_params", "content is not valid base64");
  return Buffer.from(compact, "base64");
}

/** Writes all of `bytes` from the start of the file, whatever the handle's position. */
export async function writeAllAt0(handle: FileHandle, bytes: Buffer, path: string): Promise<void> {
  try {
    let done = 0;
    while (done < bytes.length) done += (await handle.write(bytes, done, bytes.length - done, done)).bytesWritten;
  } catch (err) {
    throw fsFailure(err, path);
  }
}

export async function write(params: ActionParams<"write">, ctx: FileActionContext): Promise<ActionOutcome> {
  const bytes = contentBytes(params);
  const opened = await openFileForWrite(params.path, ctx.policy);
  try {
    await writeAllAt0(opened.handle, bytes, params.path);
  } finally {
    await opened.handle.close();
  }
  ctx.out.write(`wrote ${bytes.length} bytes to ${params.path}`);
  return {};
}
