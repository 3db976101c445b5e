import type { ActionParams } from "../../protocol/directives.ts";
import { runStatusData } from "../runs/run-files.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";

/** The run's state, with the tail of its output as the text. */
export async function runStatus(params: ActionParams<"run.status">, ctx: ActionContext): Promise<ActionOutcome> {
  const { status, tail } = ctx.runs.status(params.runId);
  ctx.out.write(tail);
  return { data: runStatusData(status) };
}
