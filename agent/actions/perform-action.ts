import type { ActionCall } from "../../protocol/directives.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { agentHealth } from "./agent-health.ts";
import { bash } from "./bash.ts";
import { diskClean } from "./disk-clean.ts";
import { diskUsage } from "./disk-usage.ts";
import { logsRead } from "./logs-read.ts";
import { networkInfo } from "./network-info.ts";
import { cancelShutdown, reboot, shutdown } from "./power.ts";
import { processList } from "./process-list.ts";
import { processSignal } from "./process-signal.ts";
import { roostActivate, roostDeploy } from "./roost-switch.ts";
import { runCancel } from "./run-cancel.ts";
import { runLaunch } from "./run-launch.ts";
import { runStatus } from "./run-status.ts";
import { serviceManage } from "./service-manage.ts";
import { serviceStatus } from "./service-status.ts";
import { controlSupervised, supervisedLogs } from "./supervised.ts";
import { systemInfo } from "./system-info.ts";

/**
 * Runs a validated, tier-checked call. File actions (agent/actions/file-actions.ts) go to the action user's file
 * runner, roost deployments too (their agent side only downloads and runs `after`, see roost-switch.ts); the others
 * run here, and start programs only through `ctx.processes` (directly or via `runProgram`), so those programs run as
 * the action user too.
 */
export function performAction(call: ActionCall, ctx: ActionContext): Promise<ActionOutcome> {
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
      return call.params.file === undefined ? logsRead(call.params, ctx) : ctx.files.run(call, ctx.policy.spec, ctx.signal, ctx.out);
    case "bash":
      return bash(call.params, ctx);
    case "run.launch":
      return runLaunch(call.params, ctx);
    case "run.status":
      return runStatus(call.params, ctx);
    case "run.cancel":
      return runCancel(call.params, ctx);
    case "supervised.start":
    case "supervised.stop":
    case "supervised.restart":
      return controlSupervised(call.action, call.params, ctx);
    case "supervised.logs":
      return supervisedLogs(call.params, ctx);
    case "system.info":
      return systemInfo(call.params, ctx);
    case "process.list":
      return processList(call.params, ctx);
    case "disk.usage":
      return diskUsage(call.params, ctx);
    case "network.info":
      return networkInfo(call.params, ctx);
    case "service.status":
      return serviceStatus(call.params, ctx);
    case "agent.health":
      return agentHealth(call.params, ctx);
    case "service.manage":
      return serviceManage(call.params, ctx);
    case "process.signal":
      return processSignal(call.params, ctx);
    case "disk.clean":
      return diskClean(call.params, ctx);
    case "system.reboot":
      return reboot(call.params, ctx);
    case "system.shutdown":
      return shutdown(call.params, ctx);
    case "system.cancel_shutdown":
      return cancelShutdown(call.params, ctx);
    case "roost.deploy":
      return roostDeploy(call.params, ctx);
    case "roost.activate":
      return roostActivate(call.params, ctx);
  }
}
