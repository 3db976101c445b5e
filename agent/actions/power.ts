import type { ActionParams } from "../../protocol/directives.ts";
import { writeJson } from "../host/compact-output.ts";
import { programFailure, runProgram, type ProgramResult } from "../host/programs.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";

type Power = "reboot" | "shutdown";

const NO_SYSTEMD = /has not been booted with systemd|Failed to connect to bus/;

/**
 * The `shutdown` command line. Linux: `-r` or `-P`, then `--` so that neither the time nor the message can be read
 * as an option, then the time (`now` or `+minutes`) and the optional wall message. Windows: shutdown.exe with the
 * delay in seconds.
 */
export function powerArgs(kind: Power, params: ActionParams<"system.reboot">): string[] {
  if (process.platform === "win32") {
    return [kind === "reboot" ? "/r" : "/s", "/t", String(params.delayMinutes * 60), ...(params.message ? ["/c", params.message] : [])];
  }
  const when = params.delayMinutes === 0 ? "now" : `+${params.delayMinutes}`;
  return [kind === "reboot" ? "-r" : "-P", "--", when, ...(params.message ? [params.message] : [])];
}

function judge(result: ProgramResult): void {
  if (result.code === 0) return;
  const message = programFailure("shutdown", result);
  throw new ActionError(NO_SYSTEMD.test(message) ? "unsupported" : "exec_failed", message);
}

async function schedule(kind: Power, params: ActionParams<"system.reboot">, ctx: ActionContext): Promise<ActionOutcome> {
  judge(await runProgram(ctx, "shutdown", powerArgs(kind, params), { asRoot: true }));
  const at = new Date(Date.now() + params.delayMinutes * 60_000);
  writeJson(ctx.out, {
    scheduled: kind,
    at: params.delayMinutes === 0 ? "now" : at.toISOString(),
    inMinutes: params.delayMinutes,
    ...(params.message && { message: params.message }),
    ...(params.delayMinutes > 0 && { cancel: "cancel_shutdown (action system.cancel_shutdown) cancels it" }),
  });
  return { exitCode: 0 };
}

export function reboot(params: ActionParams<"system.reboot">, ctx: ActionContext): Promise<ActionOutcome> {
  return schedule("reboot", params, ctx);
}

export function shutdown(params: ActionParams<"system.shutdown">, ctx: ActionContext): Promise<ActionOutcome> {
  return schedule("shutdown", params, ctx);
}

export async function cancelShutdown(_params: ActionParams<"system.cancel_shutdown">, ctx: ActionContext): Promise<ActionOutcome> {
  judge(await runProgram(ctx, "shutdown", process.platform === "win32" ? ["/a"] : ["-c"], { asRoot: true }));
  writeJson(ctx.out, { cancelled: "any scheduled reboot or shutdown" });
  return { exitCode: 0 };
}
