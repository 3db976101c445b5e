import { readFile, writeFile } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_READ_BYTES } from "../../protocol/limits.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";
import { statOrFail } from "./fs-checks.ts";
import { looksBinary } from "./text.ts";

function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

export async function edit(params: ActionParams<"edit">, ctx: ActionContext): Promise<ActionOutcome> {
  const { path, oldString, newString, replaceAll } = params;
  if (oldString === newString) throw new ActionError("invalid_params", "oldString and newString are the same; nothing to change");
  const info = await statOrFail(path);
  if (!info.isFile()) throw new ActionError("invalid_params", `${path} is not a regular file`);
  if (info.size > MAX_READ_BYTES) throw new ActionError("too_large", `${path} is ${info.size} bytes; edit is limited to ${MAX_READ_BYTES} bytes`);
  const bytes = await readFile(path).catch((err: unknown) => {
    throw fsFailure(err, path);
  });
  if (looksBinary(bytes)) throw new ActionError("invalid_params", `${path} is a binary file; edit changes text files only`);

  const text = bytes.toString("utf8");
  const count = countOccurrences(text, oldString);
  if (count === 0) throw new ActionError("not_found", `oldString was not found in ${path}`);
  if (count > 1 && !replaceAll) {
    throw new ActionError("conflict", `oldString occurs ${count} times in ${path}; add surrounding context to make it unique, or set replaceAll`);
  }
  // split/join rather than String.replace, which would interpret `$&` and friends in newString.
  const updated = text.split(oldString).join(newString);
  await writeFile(path, updated).catch((err: unknown) => {
    throw fsFailure(err, path);
  });
  ctx.out.write(`replaced ${count} occurrence${count === 1 ? "" : "s"} in ${path}`);
  return {};
}
