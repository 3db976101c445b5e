import * as z from "zod";
import { ActivityKind, ActivityLevel } from "../api.ts";
import { Label, NodeId } from "../identifiers.ts";
import { AbsolutePath } from "../paths.ts";
import { EnvName, LaunchMode, MAX_PROCESS_LOG_LINES, ProcessName, RestartPolicy, ScheduleWindow, StopSignal } from "../processes.ts";

/**
 * Tools the hub answers itself, from the site's own records, without asking any machine. The catalog names the
 * handler; the Conversation object implements one function per name, so a handler missing there fails the build.
 */

export const SiteLogsInput = z.strictObject({
  machine: NodeId.optional().describe("Only entries about this machine (its id)."),
  level: ActivityLevel.optional().describe("Only entries at this level or more severe: debug < info < warn < error."),
  kind: ActivityKind.optional().describe("Only entries of this kind, e.g. node (machines connecting and dropping) or directive (actions run and how they ended)."),
  sinceMinutes: z.number().int().min(1).max(43_200).optional().describe("Only entries from the last this many minutes."),
  limit: z.number().int().min(1).max(200).default(50).describe("At most this many entries, newest first."),
});

/**
 * Machines `list_machines` shows at most, by name, with how many match: their lines fill the model's output limit,
 * and a site of thousands must not have every record built for one answer.
 */
export const MACHINES_LISTED = 200;

export const ListMachinesInput = z.strictObject({
  status: z.enum(["online", "offline", "all"]).default("all").describe("online: connected now; offline: registered but not connected."),
  group: Label.optional().describe("Only machines of this group."),
});

// ---- supervised processes: answered by the site's SiteHub, through the same validated code as the API ----

const Machine = NodeId.describe("The machine's id, as list_machines shows it.");
const Name = ProcessName.describe("The supervised process's name, as get_process_list shows it.");
const Schedule = z
  .array(ScheduleWindow)
  .max(32)
  .describe('For launch mode scheduled: when it runs, in the machine\'s time zone, e.g. [{"days":["mon","tue","wed","thu","fri"],"start":"08:00","end":"18:00"}]. An end at or before the start runs past midnight.');

/** The fields of a process as a model writes them: the environment as a list, since providers take no free-form maps. */
const PROCESS_FIELDS = {
  command: z.string().min(1).max(4096).describe("The program: an absolute path (required at tier unprivileged, inside the sandbox), or with shell=true a command line for /bin/sh -c."),
  args: z.array(z.string().max(4096)).max(128).optional().describe("The program's arguments, each passed as it is (no shell)."),
  shell: z.boolean().optional().describe("Run command through /bin/sh -c. Off unless needed."),
  cwd: AbsolutePath.optional().describe("Working folder."),
  env: z
    .array(z.strictObject({ name: EnvName, value: z.string().max(4096) }))
    .max(64)
    .optional()
    .describe("Environment variables on top of a clean base (PATH, HOME). LD_* and similar loader variables are refused."),
  launchMode: LaunchMode.optional().describe("always: kept running; scheduled: kept running inside its schedule; off: only started by hand."),
  schedule: Schedule.optional(),
  restart: RestartPolicy.optional().describe("Relaunches after an unasked exit: at most maxAttempts within windowSeconds, waiting backoffSeconds doubled each time up to maxBackoffSeconds."),
  startupSeconds: z.number().min(0).max(3_600).optional().describe("How long it must stay up to count as started."),
  startDelaySeconds: z.number().min(0).max(86_400).optional().describe("Wait this long before starting it when it becomes due."),
  stopSignal: StopSignal.optional().describe("Signal that asks it to stop (SIGKILL follows after stopGraceSeconds)."),
  stopGraceSeconds: z.number().min(0).max(600).optional().describe("Seconds between the stop signal and SIGKILL."),
};

export const ProcessListInput = z.strictObject({ machine: Machine });
export const ProcessLogsInput = z.strictObject({
  machine: Machine,
  name: Name,
  lines: z.number().int().min(1).max(Math.min(500, MAX_PROCESS_LOG_LINES)).default(100).describe("How many of the latest lines (stdout and stderr together)."),
});
export const ProcessRefInput = z.strictObject({ machine: Machine, name: Name });
export const LaunchModeInput = z.strictObject({
  machine: Machine,
  name: Name,
  launchMode: LaunchMode.describe("always: kept running; scheduled: kept running inside its schedule; off: only started by hand."),
  schedule: Schedule.optional(),
});
export const AddProcessInput = z.strictObject({ machine: Machine, name: ProcessName.describe("A new, unique name: lowercase letters, digits, '.', '_' or '-'."), ...PROCESS_FIELDS });
export const UpdateProcessInput = z.strictObject({ machine: Machine, name: Name, ...PROCESS_FIELDS, command: PROCESS_FIELDS.command.optional() });

/** Every hub handler with the input it receives (already parsed with this schema). */
export const HUB_TOOL_INPUTS = {
  site_logs: SiteLogsInput,
  list_machines: ListMachinesInput,
  process_list: ProcessListInput,
  process_logs: ProcessLogsInput,
  process_start: ProcessRefInput,
  process_stop: ProcessRefInput,
  process_restart: ProcessRefInput,
  process_launch_mode: LaunchModeInput,
  process_add: AddProcessInput,
  process_update: UpdateProcessInput,
  process_remove: ProcessRefInput,
} as const;

export type HubToolHandler = keyof typeof HUB_TOOL_INPUTS;
export type HubToolInput<H extends HubToolHandler> = z.output<(typeof HUB_TOOL_INPUTS)[H]>;
