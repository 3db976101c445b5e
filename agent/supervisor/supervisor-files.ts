import { join } from "node:path";
import * as z from "zod";
import { ProcessConfig, ProcessExit, ProcessName } from "../../protocol/processes.ts";
import { ProcessTracking } from "../processes/tracked-processes.ts";
import { readJson, writeJsonAtomic } from "../runs/run-files.ts";

/**
 * Supervision keeps its files in one folder of the agent's state directory: the hub's last configuration, what the
 * supervisor knows of each process (which instance runs, under which identity, its relaunch history), the events
 * waiting for the hub and the processes' logs. Only the agent writes here; supervised processes get their log as an
 * open descriptor and never need to reach the folder.
 */
export function supervisorFiles(dir: string) {
  return {
    config: join(dir, "config.json"),
    state: join(dir, "state.json"),
    events: join(dir, "events"),
    logs: join(dir, "logs"),
  };
}

export const SavedIdentity = z.object({ pid: z.number().int().positive(), startTicks: z.number().int().nonnegative(), bootId: z.string() });

/** One process as the supervisor left it: enough to adopt a still running instance after the agent restarts. */
export const SavedProcess = z.object({
  identity: SavedIdentity.nullable(),
  /** What the running instance was started with (command, args, shell, folder, environment), to notice a change. */
  launched: z.string().nullable().optional(),
  /**
   * Where every process of the running instance is found again (what it started with setsid included). Absent for an
   * instance an older agent started: only its process group can be reached.
   */
  tracking: ProcessTracking.nullable().optional(),
  startedAt: z.number().nullable(),
  /** Whether the running instance got past its startup time (its started or restarted event is out). */
  counted: z.boolean(),
  /** Whether the running (or next) instance replaces one that ended, so its start is reported as restarted. */
  relaunch: z.boolean(),
  held: z.enum(["running", "stopped"]).nullable(),
  gaveUp: z.boolean(),
  attempts: z.array(z.number()).max(200),
  restarts: z.number().int().nonnegative(),
  lastExit: ProcessExit.nullable(),
});
export type SavedProcess = z.infer<typeof SavedProcess>;

export const SavedState = z.record(ProcessName, SavedProcess);
export type SavedState = z.infer<typeof SavedState>;

export function loadConfig(dir: string): ProcessConfig | null {
  return readJson(supervisorFiles(dir).config, ProcessConfig);
}

export function saveConfig(dir: string, config: ProcessConfig): void {
  writeJsonAtomic(supervisorFiles(dir).config, config);
}

export function loadState(dir: string): SavedState {
  return readJson(supervisorFiles(dir).state, SavedState) ?? {};
}

export function saveState(dir: string, state: SavedState): void {
  writeJsonAtomic(supervisorFiles(dir).state, state);
}
