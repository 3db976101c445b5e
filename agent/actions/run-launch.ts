import type { ActionParams } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { verifiedDirectory } from "./fs-checks.ts";

/** Starts a long run and returns at once; its ending is reported later as `run_complete`. */
export async function runLaunch(params: ActionParams<"run.launch">, ctx: ActionContext): Promise<ActionOutcome> {
  const cwd = params.cwd ? await verifiedDirectory(params.cwd, ctx.policy, "working directory") : process.cwd();
  const { status } = await ctx.runs.launch(params, cwd, ctx.directiveId);
  ctx.out.write(`started run ${status.runId}${status.pid === null ? "" : ` (pid ${status.pid})`}`);
  return { data: { kind: "run", runId: status.runId, ...(status.pid !== null && { pid: status.pid }) } };
}
