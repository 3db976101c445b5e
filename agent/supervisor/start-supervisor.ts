import { mkdtempSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { AgentOptions } from "../connection/agent-options.ts";
import type { Logger } from "../connection/logger.ts";
import type { ActionUser } from "../privilege/action-user.ts";
import { cgroupParent, ownedCgroupParent } from "../processes/cgroup.ts";
import { ProcessSupervisor } from "./process-supervisor.ts";

/**
 * The agent's supervisor, started before it first dials the hub so that configured processes run while the hub is
 * unreachable. Its files live in `<state dir>/processes`; an agent without a state directory supervises from a fresh
 * temporary folder, which means it cannot adopt its processes after a restart (it says so).
 */
export function startSupervisor(options: AgentOptions, log: Logger, user: ActionUser): ProcessSupervisor {
  let dir: string;
  if (options.stateDir) {
    dir = join(options.stateDir, "processes");
  } else {
    dir = mkdtempSync(join(os.tmpdir(), "cortex-processes-"));
    log("warn", `no --state-dir: supervised processes are kept in ${dir} and will not be adopted after the agent restarts`);
  }
  // Supervised processes run as the action user, like every action of a node below tier root.
  // The same cgroup parent as the directives' (named after the state folder), so a restarted agent finds its
  // instances' cgroups where it left them.
  const parent = options.stateDir ? (ownedCgroupParent(options.stateDir)?.parent ?? null) : cgroupParent();
  const supervisor = new ProcessSupervisor({ dir, tier: options.tier, sandboxRoot: options.sandboxRoot, log, user, cgroupParent: parent });
  supervisor.start();
  return supervisor;
}
