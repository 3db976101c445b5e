import type { ActionCall } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { bash } from "./bash.ts";

/**
 * Runs a validated, tier-checked call. File actions (agent/actions/file-actions.ts) go to the action user's file
 * runner, roost deployments too (their agent side only downloads and runs `after`, see roost-switch.ts); the others
 * run here, and start programs only through `ctx.processes` (directly or via `runProgram`), so those programs run as
 * the action user too. Only `bash` and the file actions are loaded with the agent: an agent spends its life at rest,
 * so each other action's code (and what it brings, such as the regular expression engine of process patterns) is
 * loaded by the first directive that asks for it.
 */
export async function performAction(call: ActionCall, ctx: ActionContext): Promise<ActionOutcome> {
  switch (call.action) {
    case "read":
    case "write":
    case "edit":
    case "glob":
    case "grep":
    case "list":
      return ctx.files.run(call, ctx.policy.spec, ctx.signal, ctx.out);
    case "logs.read":
      // A log file is a file; the journal is read by a program.
      return call.params.file === undefined ? (await import("./logs-read.ts")).logsRead(call.params, ctx) : ctx.files.run(call, ctx.policy.spec, ctx.signal, ctx.out);
    case "bash":
      return bash(call.params, ctx);
    case "run.launch":
      return (await import("./run-launch.ts")).runLaunch(call.params, ctx);
    case "run.status":
      return (await import("./run-status.ts")).runStatus(call.params, ctx);
    case "run.cancel":
      return (await import("./run-cancel.ts")).runCancel(call.params, ctx);
    case "supervised.start":
    case "supervised.stop":
    case "supervised.restart":
      return (await import("./supervised.ts")).controlSupervised(call.action, call.params, ctx);
    case "supervised.logs":
      return (await import("./supervised.ts")).supervisedLogs(call.params, ctx);
    case "system.info":
      return (await import("./system-info.ts")).systemInfo(call.params, ctx);
    case "process.list":
      return (await import("./process-list.ts")).processList(call.params, ctx);
    case "disk.usage":
      return (await import("./disk-usage.ts")).diskUsage(call.params, ctx);
    case "network.info":
      return (await import("./network-info.ts")).networkInfo(call.params, ctx);
    case "service.status":
      return (await import("./service-status.ts")).serviceStatus(call.params, ctx);
    case "agent.health":
      return (await import("./agent-health.ts")).agentHealth(call.params, ctx);
    case "service.manage":
      return (await import("./service-manage.ts")).serviceManage(call.params, ctx);
    case "process.signal":
      return (await import("./process-signal.ts")).processSignal(call.params, ctx);
    case "disk.clean":
      return (await import("./disk-clean.ts")).diskClean(call.params, ctx);
    case "system.reboot":
      return (await import("./power.ts")).reboot(call.params, ctx);
    case "system.shutdown":
      return (await import("./power.ts")).shutdown(call.params, ctx);
    case "system.cancel_shutdown":
      return (await import("./power.ts")).cancelShutdown(call.params, ctx);
    case "roost.deploy":
      return (await import("./roost-switch.ts")).roostDeploy(call.params, ctx);
    case "roost.activate":
      return (await import("./roost-switch.ts")).roostActivate(call.params, ctx);
  }
}
