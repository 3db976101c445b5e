import type { ActionParams } from "../../protocol/directives.ts";
import { UnknownProcess, type ControlOutcome, type ProcessSupervisor } from "../supervisor/process-supervisor.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";

type Operation = "supervised.start" | "supervised.stop" | "supervised.restart";

function supervisorOf(ctx: ActionContext): ProcessSupervisor {
  if (!ctx.supervisor) throw new ActionError("unsupported", "this agent does not supervise processes");
  return ctx.supervisor;
}

async function known<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof UnknownProcess) throw new ActionError("not_found", err.message);
    throw err;
  }
}

/** Starts, stops or restarts a supervised process by hand; the text says what happened, the data has its state after. */
export async function controlSupervised(action: Operation, params: ActionParams<Operation>, ctx: ActionContext): Promise<ActionOutcome> {
  const supervisor = supervisorOf(ctx);
  const outcome: ControlOutcome = await known(() => {
    switch (action) {
      case "supervised.start":
        return supervisor.startByHand(params.name);
      case "supervised.stop":
        return supervisor.stopByHand(params.name);
      case "supervised.restart":
        return supervisor.restartByHand(params.name);
    }
  });
  ctx.out.write(`${outcome.message}\n`);
  return { data: { kind: "process", status: outcome.status }, ...(outcome.ok ? {} : { failure: { message: outcome.message, errorCode: "exec_failed" } }) };
}

/** The last lines of a supervised process's log. */
export async function supervisedLogs(params: ActionParams<"supervised.logs">, ctx: ActionContext): Promise<ActionOutcome> {
  const supervisor = supervisorOf(ctx);
  ctx.out.write(await known(() => supervisor.logs(params.name, params.lines)));
  return {};
}
