import type { ActionCall } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";
import { bash } from "./bash.ts";
import { edit } from "./edit.ts";
import { globFiles } from "./glob.ts";
import { grep } from "./grep.ts";
import { read } from "./read.ts";
import { runCancel } from "./run-cancel.ts";
import { runLaunch } from "./run-launch.ts";
import { runStatus } from "./run-status.ts";
import { write } from "./write.ts";

/** Runs a validated, tier-checked call. */
export function performAction(call: ActionCall, ctx: ActionContext): Promise<ActionOutcome> {
  switch (call.action) {
    case "bash":
      return bash(call.params, ctx);
    case "read":
      return read(call.params, ctx);
    case "write":
      return write(call.params, ctx);
    case "edit":
      return edit(call.params, ctx);
    case "glob":
      return globFiles(call.params, ctx);
    case "grep":
      return grep(call.params, ctx);
    case "run.launch":
      return runLaunch(call.params, ctx);
    case "run.status":
      return runStatus(call.params, ctx);
    case "run.cancel":
      return runCancel(call.params, ctx);
    default:
      // The tool catalog is merged ahead of the actions behind it; until each lands, say so plainly.
      return Promise.reject(new ActionError("unknown_action", `this agent does not implement ${call.action} yet`));
  }
}
