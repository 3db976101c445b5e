import type { ActionCall } from "./directives.ts";

/**
 * How long an action may take on the agent when it needs a budget of its own: a command its timeout, machine
 * actions what their slowest step may take (du over a big tree, a service's start, a kill's grace), a roost
 * deployment its whole download and assembly and then its `after` command. Null means
 * the default for quick actions. The hub waits this long plus a margin, so the agent's own timeout result comes
 * first.
 */
export function actionTimeoutMs(call: ActionCall): number | null {
  switch (call.action) {
    case "bash":
      return call.params.timeoutMs;
    case "disk.usage":
      return 90_000;
    case "disk.clean":
      return 300_000;
    case "service.manage":
      return 150_000;
    case "process.signal":
      return (call.params.graceSeconds + 30) * 1000;
    // A stop waits out the process's grace period (at most 600 s) before SIGKILL; the hub sends the process's own.
    case "supervised.stop":
    case "supervised.restart":
      return 660_000;
    case "roost.deploy":
    case "roost.activate":
      return call.params.timeoutMs + call.params.afterTimeoutMs;
    default:
      return null;
  }
}
