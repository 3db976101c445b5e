import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_READ_BYTES } from "../../protocol/limits.ts";
import { openFileVerified } from "../sandbox/verified-fs.ts";
import type { ActionOutcome } from "./action-context.ts";
import { ActionError, fsFailure } from "./action-error.ts";
import type { FileActionContext } from "./file-action-context.ts";
import { looksBinary } from "./text.ts";
import { writeAllAt0 } from "./write.ts";

function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

export async function edit(params: ActionParams<"edit">, ctx: FileActionContext): Promise<ActionOutcome> {
  const { path, oldString, newString, replaceAll } = params;
  if (oldString === newString) throw new ActionError("invalid_params", "oldString and newString are the same; nothing to change");
  // One descriptor, verified once, for both the read and the write: the file edited is the file read.
  const opened = await openFileVerified(path, ctx.policy, "update");
  let count: number;
  try {
    if (opened.stats.size > MAX_READ_BYTES) throw new ActionError("too_large", `${path} is ${opened.stats.size} bytes; edit is limited to ${MAX_READ_BYTES} bytes`);
    const bytes = await opened.handle.readFile().catch((err: unknown) => {
      throw fsFailure(err, path);
    });
    if (looksBinary(bytes)) throw new ActionError("invalid_params", `${path} is a binary file; edit changes text files only`);

    const text = bytes.toString("utf8");
    count = countOccurrences(text, oldString);
    if (count === 0) throw new ActionError("not_found", `oldString was not found in ${path}`);
    if (count > 1 && !replaceAll) {
      throw new ActionError("conflict", `oldString occurs ${count} times in ${path}; add surrounding context to make it unique, or set replaceAll`);
    }
    // split/join rather than String.replace, which would interpret `$&` and friends in newString.
    const updated = Buffer.from(text.split(oldString).join(newString), "utf8");
    await opened.handle.truncate(0);
    await writeAllAt0(opened.handle, updated, path);
  } finally {
    await opened.handle.close();
  }
  ctx.out.write(`replaced ${count} occurrence${count === 1 ? "" : "s"} in ${path}`);
  return {};
}
