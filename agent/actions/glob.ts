import type { ActionParams } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { requireDirectory } from "./fs-checks.ts";
import { comparePaths, listFiles } from "./file-listing.ts";

export async function globFiles(params: ActionParams<"glob">, ctx: ActionContext): Promise<ActionOutcome> {
  await requireDirectory(params.path);
  const found = (await listFiles(params.path, params.pattern, ctx.signal)).filter(ctx.reveals).sort(comparePaths);
  ctx.signal.throwIfAborted();
  const shown = found.slice(0, params.limit);
  const lines = found.length > shown.length ? [...shown, `[${found.length} files matched; showing the first ${shown.length}]`] : shown;
  ctx.out.write(lines.join("\n"));
  return {};
}
