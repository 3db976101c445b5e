import type { ActionParams } from "../../protocol/directives.ts";
import { runStatusData } from "../runs/run-files.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";

/** Stops a long run's whole process group; cancelling a run that already ended just reports how it ended. */
export async function runCancel(params: ActionParams<"run.cancel">, ctx: ActionContext): Promise<ActionOutcome> {
  const { status } = await ctx.runs.cancel(params.runId);
  ctx.out.write(`run ${status.runId} is ${status.state}`);
  const data = runStatusData(status);
  if (status.state === "running") return { data, failure: { errorCode: "exec_failed", message: `run ${status.runId} did not stop` } };
  return { data };
}
