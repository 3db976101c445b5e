import type { ActionParams } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { statOrFail } from "./fs-checks.ts";
import { builtinSearch } from "./grep-builtin.ts";
import { GrepResults } from "./grep-results.ts";
import { ripgrepSearch } from "./grep-ripgrep.ts";

export async function grep(params: ActionParams<"grep">, ctx: ActionContext): Promise<ActionOutcome> {
  await statOrFail(params.path);
  const results = new GrepResults(params, ctx.reveals);
  if (ctx.ripgrep) await ripgrepSearch(ctx.ripgrep, params, ctx.signal, results.add);
  else await builtinSearch(params, ctx.signal, results.add);
  ctx.out.write(results.render());
  return {};
}
