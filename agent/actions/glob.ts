import type { ActionParams } from "../../protocol/directives.ts";
import { openDirectoryVerified } from "../sandbox/verified-fs.ts";
import { walkFiles } from "../sandbox/verified-walk.ts";
import type { ActionOutcome } from "./action-context.ts";
import type { FileActionContext } from "./file-action-context.ts";

export async function globFiles(params: ActionParams<"glob">, ctx: FileActionContext): Promise<ActionOutcome> {
  const root = await openDirectoryVerified(params.path, ctx.policy);
  const found: string[] = [];
  try {
    // The walk yields in path order, so the first `limit` are the ones shown; the rest are only counted.
    for await (const file of walkFiles(root, params.pattern, ctx.policy, ctx.signal)) found.push(file.real);
  } finally {
    await root.handle.close();
  }
  ctx.signal.throwIfAborted();
  const shown = found.slice(0, params.limit);
  const lines = found.length > shown.length ? [...shown, `[${found.length} files matched; showing the first ${shown.length}]`] : shown;
  ctx.out.write(lines.join("\n"));
  return {};
}
