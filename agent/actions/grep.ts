import type { ActionParams } from "../../protocol/directives.ts";
import { statVerified } from "../sandbox/verified-fs.ts";
import type { ActionOutcome } from "./action-context.ts";
import type { FileActionContext } from "./file-action-context.ts";
import { builtinSearch } from "./grep-builtin.ts";
import { GrepResults } from "./grep-results.ts";
import { ripgrepSearch } from "./grep-ripgrep.ts";

/**
 * ripgrep only where every path is allowed (tier root, no confinement): it opens the files it walks by name,
 * following a symlink swapped in after the walk saw a regular file, so its output cannot be trusted to stay inside
 * a policy. Everywhere else the built-in search reads through verified descriptors.
 */
export async function grep(params: ActionParams<"grep">, ctx: FileActionContext): Promise<ActionOutcome> {
  const results = new GrepResults(params);
  if (ctx.ripgrep && ctx.policy.unrestricted) {
    await statVerified(params.path, ctx.policy);
    await ripgrepSearch(ctx.ripgrep, params, ctx.signal, results.add);
  } else {
    await builtinSearch(params, ctx.policy, ctx.signal, results.add);
  }
  ctx.out.write(results.render());
  return {};
}
