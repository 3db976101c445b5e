import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod";
import type { ResultData } from "../../protocol/directives.ts";
import { ProcessTracking } from "../processes/tracked-processes.ts";
import type { ProcessIdentity } from "../supervisor/proc-info.ts";

/**
 * A long run lives in `<stateDir>/runs/<runId>/`. The agent writes the spec and the cancel marker; the watcher owns
 * the status and output; the watcher creates `callback.pending` when the run ends and the agent deletes it once the
 * hub has recorded the completion. One writer per file, so neither side needs a lock.
 */

export const RUN_ID = /^run-[a-z0-9-]{1,64}$/;
export const RunSpec = z.object({
  runId: z.string().regex(RUN_ID),
  directiveId: z.string(),
  name: z.string().optional(),
  command: z.string(),
  cwd: z.string(),
  stallTimeoutMs: z.number().int().positive(),
  killGraceMs: z.number().int().nonnegative(),
  createdAt: z.number(),
  /** Who the command runs as (see agent/privilege/action-user.ts). */
  user: z.object({
    name: z.string(),
    uid: z.number().int(),
    gid: z.number().int(),
    groups: z.array(z.number().int()),
    home: z.string(),
    shell: z.string(),
    switched: z.boolean(),
  }),
  /** How the run's processes are found, by the watcher on a stall and by the agent on cancel. */
  tracking: ProcessTracking,
});
export type RunSpec = z.infer<typeof RunSpec>;

export const RunState = z.enum(["running", "done", "failed", "cancelled", "stalled", "lost"]);
export type RunState = z.infer<typeof RunState>;

export const RunStatus = z.object({
  runId: z.string(),
  state: RunState,
  watcherPid: z.number().int().nullable(),
  /** The command's pid, which is also its process group id. */
  pid: z.number().int().nullable(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  lastOutputAt: z.number().nullable(),
  exitCode: z.number().int().nullable(),
  reason: z.string().optional(),
  outputBytes: z.number().int().nonnegative(),
  /**
   * With the start ticks below, what tells the watcher and the command apart from whatever holds their PIDs after
   * they end or the machine reboots (see agent/supervisor/proc-info.ts). Optional because watchers of older agents
   * did not record them, and a watcher without /proc cannot.
   */
  bootId: z.string().min(1).optional(),
  watcherStartTicks: z.number().int().nonnegative().optional(),
  /** Null when the command was gone before its start time could be read. */
  pidStartTicks: z.number().int().nonnegative().nullable().optional(),
});
export type RunStatus = z.infer<typeof RunStatus>;

/** The watcher as recorded, or null when the status does not say enough to tell it from a later holder of its PID. */
export function watcherIdentity(status: RunStatus): ProcessIdentity | null {
  const { watcherPid, watcherStartTicks, bootId } = status;
  if (watcherPid === null || watcherStartTicks === undefined || bootId === undefined) return null;
  return { pid: watcherPid, startTicks: watcherStartTicks, bootId };
}

/** The command as recorded, or null when the status does not say enough to tell it from a later holder of its PID. */
export function commandIdentity(status: RunStatus): ProcessIdentity | null {
  const { pid, pidStartTicks, bootId } = status;
  if (pid === null || pidStartTicks === undefined || pidStartTicks === null || bootId === undefined) return null;
  return { pid, startTicks: pidStartTicks, bootId };
}

export const RunOutput = z.object({ tail: z.string(), totalBytes: z.number().int().nonnegative() });

export function runFiles(dir: string) {
  return {
    spec: join(dir, "spec.json"),
    status: join(dir, "status.json"),
    output: join(dir, "output.json"),
    cancelRequested: join(dir, "cancel.requested"),
    callbackPending: join(dir, "callback.pending"),
    watcherLog: join(dir, "watcher.log"),
  };
}

/** Written whole or not at all, so a reader never sees half a file. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(value));
  renameSync(temporary, file);
}

/** The file's content, or null when it is missing or not what it should be. */
export function readJson<T>(file: string, schema: z.ZodType<T>): T | null {
  if (!existsSync(file)) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function runStatusData(status: RunStatus): ResultData {
  return {
    kind: "run_status",
    runId: status.runId,
    state: status.state,
    exitCode: status.exitCode,
    ...(status.reason !== undefined && { reason: status.reason }),
  };
}
