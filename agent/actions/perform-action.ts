import type { ActionCall } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { bash } from "./bash.ts";
import { isFileActionCall } from "./file-action-context.ts";
import { runCancel } from "./run-cancel.ts";
import { runLaunch } from "./run-launch.ts";
import { runStatus } from "./run-status.ts";

/**
 * Runs a validated, tier-checked call. File actions go to the action user's file runner; the others run here and
 * start programs only through `ctx.processes`.
 */
export function performAction(call: ActionCall, ctx: ActionContext): Promise<ActionOutcome> {
  if (isFileActionCall(call)) return ctx.files.run(call, ctx.policy.spec, ctx.signal, ctx.out);
  switch (call.action) {
    case "bash":
      return bash(call.params, ctx);
    case "run.launch":
      return runLaunch(call.params, ctx);
    case "run.status":
      return runStatus(call.params, ctx);
    case "run.cancel":
      return runCancel(call.params, ctx);
  }
}
