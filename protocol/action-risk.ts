import type { ActionName } from "./directives.ts";

/** Fields of a supervised process that decide what runs: changing one is as strong as running a shell command (risk tier 3). */
export const COMMAND_FIELDS = ["command", "args", "shell", "cwd", "env"] as const;

/**
 * How much harm an action can do, whatever the node's capability tier: 1 reads, 2 manages something bounded,
 * 3 runs arbitrary commands or changes files. Members and read or chat API keys may run tier 1 only.
 */
export type RiskTier = 1 | 2 | 3;

export const ACTION_RISK: Readonly<Record<ActionName, RiskTier>> = {
  read: 1,
  glob: 1,
  grep: 1,
  list: 1,
  "run.status": 1,
  "system.info": 1,
  "process.list": 1,
  "disk.usage": 1,
  "network.info": 1,
  "service.status": 1,
  "logs.read": 1,
  "agent.health": 1,
  "supervised.logs": 1,
  "run.cancel": 2,
  "service.manage": 2,
  "process.signal": 2,
  "disk.clean": 2,
  // Cancelling a scheduled shutdown changes nothing that runs, but it overrides a decision someone made.
  "system.cancel_shutdown": 2,
  // A supervised process runs only what an admin configured (tier 3); starting or stopping it is bounded.
  "supervised.start": 2,
  "supervised.stop": 2,
  "supervised.restart": 2,
  bash: 3,
  write: 3,
  edit: 3,
  "run.launch": 3,
  "system.reboot": 3,
  "system.shutdown": 3,
  "roost.deploy": 3,
  "roost.activate": 3,
};

/** The highest risk tier a caller who may only read can still run. */
export const READ_ONLY_RISK: RiskTier = 1;

export function riskOf(action: ActionName): RiskTier {
  return ACTION_RISK[action];
}

/**
 * Risk of changing a machine's supervised processes. A new command line is as strong as a shell, so adding a
 * process, removing one and changing what one runs (command, args, shell, folder, environment) are tier 3; changing
 * only when and how it runs (launch mode, schedule, relaunches, timings, stop signal, logs) is tier 2.
 */
export const PROCESS_ADD_RISK: RiskTier = 3;
export const PROCESS_REMOVE_RISK: RiskTier = 3;
export const PROCESS_READ_RISK: RiskTier = 1;

export function riskOfProcessPatch(patch: object): RiskTier {
  return Object.keys(patch).some((field) => (COMMAND_FIELDS as readonly string[]).includes(field)) ? 3 : 2;
}
