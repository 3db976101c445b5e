import type { ActionParams } from "../../protocol/directives.ts";
import { fullUnitName } from "../../protocol/machine-actions.ts";
import { writeJson } from "../host/compact-output.ts";
import { programFailure, runProgram } from "../host/programs.ts";
import { ownUnit, requireSystemd } from "../host/systemd.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";
import { unitState } from "./service-status.ts";

/** systemd's own default start timeout is 90 s; a restart waits for the unit to come up, so allow a little more. */
const JOB_TIMEOUT_MS = 120_000;

/**
 * Starts, stops or restarts a unit and reports its state afterwards. The protocol has already refused protected
 * units and non-service types; here the agent refuses its own unit, which only it can know, and checks the unit
 * exists before asking systemd to act. It runs as root directly, or through `sudo -n` when the agent is not root,
 * so at tier sudo the machine's sudoers decides.
 */
export async function serviceManage(params: ActionParams<"service.manage">, ctx: ActionContext): Promise<ActionOutcome> {
  await requireSystemd("managing services");
  const unit = fullUnitName(params.unit);
  const own = await ownUnit();
  if (own === unit) throw new ActionError("protected", `${unit} is the unit the Cortex agent runs in; it cannot ${params.operation} itself`);
  await unitState(ctx, unit);
  const result = await runProgram(ctx, "systemctl", [params.operation, "--no-ask-password", "--", unit], { asRoot: true, timeoutMs: JOB_TIMEOUT_MS });
  const after = await unitState(ctx, unit);
  writeJson(ctx.out, { unit, operation: params.operation, succeeded: result.code === 0, state: after });
  if (result.code !== 0) return { exitCode: result.code, failure: { errorCode: "exec_failed", message: programFailure("systemctl", result) } };
  return { exitCode: 0 };
}
