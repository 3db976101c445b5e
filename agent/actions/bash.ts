import type { ActionParams } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";
import { verifiedDirectory } from "./fs-checks.ts";
import { waitForExit } from "./process-group.ts";
import { shellCommand } from "./shell.ts";

export async function bash(params: ActionParams<"bash">, ctx: ActionContext): Promise<ActionOutcome> {
  const cwd = params.cwd ? await verifiedDirectory(params.cwd, ctx.policy, "working directory") : undefined;
  ctx.signal.throwIfAborted();
  const { file, args } = shellCommand(params.command, params.login);
  const child = ctx.processes.spawn(file, args, { cwd });
  child.stdout!.on("data", (data: Buffer) => ctx.out.write(data, "stdout"));
  child.stderr!.on("data", (data: Buffer) => ctx.out.write(data, "stderr"));
  let stopping: Promise<void> | undefined;
  // Everything the command started, even what left its session, is stopped with it.
  const stop = () => (stopping = ctx.processes.terminate(ctx.killGraceMs));
  ctx.signal.addEventListener("abort", stop, { once: true });
  const exit = await waitForExit(child).finally(() => ctx.signal.removeEventListener("abort", stop));
  if (ctx.signal.aborted) {
    // The shell may be gone while something it started in the background is still being stopped.
    await stopping;
    throw ctx.signal.reason;
  }
  if (exit.error) throw new ActionError("exec_failed", `could not start ${file}: ${exit.error.message}`);
  if (exit.code === 0) return { exitCode: 0 };
  const message = exit.code === null ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  return { exitCode: exit.code, ...(exit.signal && { signal: exit.signal }), failure: { message } };
}
