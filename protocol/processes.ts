import * as z from "zod";
import { AbsolutePath } from "./paths.ts";

export { launchText, scheduleWindowText } from "./process-text.ts";

/**
 * Supervised processes: programs the agent keeps running on its machine, configured from the hub. The hub keeps each
 * machine's list and sends it whole, versioned, in `config_update`; the agent keeps it on disk so supervision goes on
 * while the hub is unreachable, and reports events and live status back. docs/processes.md tells the whole story.
 */

/** At most this many supervised processes per machine; the whole list travels in one frame. */
export const MAX_PROCESSES_PER_NODE = 32;
/** One process's configuration, as JSON, at most: 32 of them stay well under the 1 MiB frame limit. */
export const MAX_PROCESS_SPEC_BYTES = 16 * 1024;
/** Events per `process_events` frame. */
export const MAX_EVENTS_PER_FRAME = 100;
/** Log lines one request may ask for. */
export const MAX_PROCESS_LOG_LINES = 5_000;

/**
 * A process's name: lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit. It names the
 * process's log files on the machine, so it can never be a path: no `/`, and no name is `.` or `..`.
 */
export const ProcessName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "a process name is 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit");
export type ProcessName = z.infer<typeof ProcessName>;

const noNul = (s: string) => !s.includes("\u0000");

export const Weekday = z.enum(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
export type Weekday = z.infer<typeof Weekday>;

/** A time of day on the machine's clock, 24-hour `HH:MM`. */
export const ClockTime = z.string().regex(/^(?:[01]\d|2[0-3]):[0-5]\d$/, "a time of day as HH:MM (00:00 to 23:59)");

/**
 * When a scheduled process runs: on each of `days`, from `start` to `end` in the machine's time zone. An `end` at or
 * before `start` runs past midnight into the next day (22:00-06:00 on fri runs Friday night to Saturday morning).
 */
export const ScheduleWindow = z
  .strictObject({
    days: z
      .array(Weekday)
      .min(1)
      .max(7)
      .transform((days) => Weekday.options.filter((d) => days.includes(d))),
    start: ClockTime,
    end: ClockTime,
  })
  .refine((w) => w.start !== w.end, "start and end must differ (use launch mode always to run all day)");
export type ScheduleWindow = z.infer<typeof ScheduleWindow>;

const DAY_WORDS: Record<string, readonly Weekday[]> = {
  daily: Weekday.options,
  weekdays: ["mon", "tue", "wed", "thu", "fri"],
  weekends: ["sat", "sun"],
};

/**
 * A schedule window as people type it: `mon-fri 08:00-18:00`, `daily 22:00-06:00`, `sat,sun 10:00-16:00` (a day
 * range wraps around the week: fri-mon). Returns the window, or why the text is not one; the times are checked by
 * `ScheduleWindow` afterwards.
 */
export function parseScheduleWindow(text: string): { days: Weekday[]; start: string; end: string } | string {
  const match = /^\s*(\S+)\s+(\d{1,2}:\d{2})-(\d{1,2}:\d{2})\s*$/.exec(text);
  if (!match) return `expected "DAYS HH:MM-HH:MM" (e.g. "mon-fri 08:00-18:00"), got "${text}"`;
  const days: Weekday[] = [];
  for (const part of match[1]!.toLowerCase().split(",")) {
    const word = DAY_WORDS[part];
    if (word) {
      days.push(...word);
      continue;
    }
    const [from, to] = part.split("-");
    const a = Weekday.options.indexOf(from as Weekday);
    const b = to === undefined ? a : Weekday.options.indexOf(to as Weekday);
    if (a < 0 || b < 0) return `unknown day "${part}": use mon..sun, a range like mon-fri, daily, weekdays or weekends`;
    for (let i = a; ; i = (i + 1) % 7) {
      days.push(Weekday.options[i]!);
      if (i === b) break;
    }
  }
  const pad = (t: string) => t.padStart(5, "0");
  return { days: [...new Set(days)], start: pad(match[2]!), end: pad(match[3]!) };
}

/** off: never started by the agent; always: kept running; scheduled: kept running inside its windows only. */
export const LaunchMode = z.enum(["off", "always", "scheduled"]);
export type LaunchMode = z.infer<typeof LaunchMode>;

export const StopSignal = z.enum(["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL"]);
export type StopSignal = z.infer<typeof StopSignal>;

/**
 * After an exit nobody asked for, the agent starts the process again, waiting `backoffSeconds` doubled with each
 * attempt already made in the last `windowSeconds`, at most `maxBackoffSeconds`; once `maxAttempts` relaunches fell
 * within the window it gives up until someone starts the process again.
 */
export const RestartPolicy = z
  .strictObject({
    maxAttempts: z.number().int().min(0).max(100).default(5),
    windowSeconds: z.number().min(1).max(86_400).default(300),
    backoffSeconds: z.number().min(0).max(3_600).default(1),
    maxBackoffSeconds: z.number().min(0).max(3_600).default(60),
  })
  .refine((r) => r.backoffSeconds <= r.maxBackoffSeconds, "backoffSeconds must not exceed maxBackoffSeconds");
export type RestartPolicy = z.infer<typeof RestartPolicy>;

/**
 * Whatever the policy says, a process relaunched this many times within this long gives up (as systemd's start
 * limit does): a policy with a tiny window and tiny backoffs would otherwise relaunch a crashing process forever,
 * dozens of times a second, each with an event for the hub.
 */
export const RELAUNCH_CEILING = { count: 10, withinMs: 10_000 } as const;

/** stdout and stderr go to one log file on the machine, copied aside at `maxBytes`; `keep` older files are kept. */
export const LogPolicy = z.strictObject({
  maxBytes: z
    .number()
    .int()
    .min(4 * 1024)
    .max(1024 * 1024 * 1024)
    .default(10 * 1024 * 1024),
  keep: z.number().int().min(0).max(20).default(3),
});
export type LogPolicy = z.infer<typeof LogPolicy>;

export const EnvName = z
  .string()
  .max(128)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name is letters, digits and '_', not starting with a digit");

const EnvValue = z.string().max(4096).refine(noNul, "must not contain NUL");
const MAX_ENV_VARS = 64;

const Command = z.string().trim().min(1).max(4096).refine(noNul, "must not contain NUL");
const Args = z.array(z.string().max(4096).refine(noNul, "must not contain NUL")).max(128);
const Env = z.record(EnvName, EnvValue).refine((env) => Object.keys(env).length <= MAX_ENV_VARS, `at most ${MAX_ENV_VARS} environment variables`);
const Schedule = z.array(ScheduleWindow).max(32);
const StartupSeconds = z.number().min(0).max(3_600);
const StartDelaySeconds = z.number().min(0).max(86_400);
const StopGraceSeconds = z.number().min(0).max(600);

/** The fields of a process: its configuration as an admin writes it, with the default of each. */
const SPEC_FIELDS = {
  name: ProcessName,
  /**
   * The program to run: an absolute path, or a name looked up in the agent's PATH (root and sudo only). With `shell`,
   * a command line for `/bin/sh -c` instead.
   */
  command: Command,
  args: Args.default([]),
  /** Run `command` through `/bin/sh -c`; off unless asked, so no argument is ever read as shell syntax. */
  shell: z.boolean().default(false),
  /** The working folder; the sandbox at tier unprivileged, else `/`, when not given. */
  cwd: AbsolutePath.optional(),
  env: Env.default({}),
  launchMode: LaunchMode.default("always"),
  schedule: Schedule.default([]),
  restart: RestartPolicy.prefault({}),
  /** How long it must stay up to count as started; an exit sooner is a failed start. */
  startupSeconds: StartupSeconds.default(1),
  /** Wait this long before starting it when it becomes due (agent start, window opening, new configuration). */
  startDelaySeconds: StartDelaySeconds.default(0),
  stopSignal: StopSignal.default("SIGTERM"),
  /** Time between the stop signal and SIGKILL. */
  stopGraceSeconds: StopGraceSeconds.default(10),
  log: LogPolicy.prefault({}),
};

/**
 * The fields a change may name, without defaults: a field left out of a change keeps its value. A field given
 * replaces the old one whole (a `restart` or `log` object included, its own missing parts taking their defaults).
 */
const PATCH_FIELDS = {
  command: Command,
  args: Args,
  shell: z.boolean(),
  /** null goes back to the default folder. */
  cwd: AbsolutePath.nullable(),
  env: Env,
  launchMode: LaunchMode,
  schedule: Schedule,
  restart: RestartPolicy,
  startupSeconds: StartupSeconds,
  startDelaySeconds: StartDelaySeconds,
  stopSignal: StopSignal,
  stopGraceSeconds: StopGraceSeconds,
  log: LogPolicy,
};

function checkSpec(spec: { shell: boolean; args: string[]; launchMode: LaunchMode; schedule: ScheduleWindow[] }, ctx: z.RefinementCtx): void {
  if (spec.shell && spec.args.length > 0) ctx.addIssue({ code: "custom", path: ["args"], message: "a shell command takes no separate args: put them in the command line" });
  if (spec.launchMode === "scheduled" && spec.schedule.length === 0) ctx.addIssue({ code: "custom", path: ["schedule"], message: "launch mode scheduled needs at least one window" });
  if (JSON.stringify(spec).length > MAX_PROCESS_SPEC_BYTES) ctx.addIssue({ code: "custom", path: [], message: `the whole configuration must stay under ${MAX_PROCESS_SPEC_BYTES} bytes` });
}

/** One supervised process, complete: defaults filled in. */
export const ProcessSpec = z.strictObject(SPEC_FIELDS).superRefine(checkSpec);
export type ProcessSpec = z.output<typeof ProcessSpec>;
export type ProcessSpecInput = z.input<typeof ProcessSpec>;

/** A change to an existing process: any fields but the name (which is what it is known by). */
export const ProcessPatch = z
  .strictObject(PATCH_FIELDS)
  .partial()
  .refine((patch) => Object.keys(patch).length > 0, "name at least one field to change");
export type ProcessPatch = z.input<typeof ProcessPatch>;

// Defined with the risk tiers, which the dashboard reads without zod.
export { COMMAND_FIELDS } from "./action-risk.ts";

/** A process's configuration with a patch applied, validated whole; the patch's fields replace the old ones. */
export function patchedSpec(current: ProcessSpec, patch: z.output<typeof ProcessPatch>): z.ZodSafeParseResult<ProcessSpec> {
  const { cwd, ...rest } = patch;
  const merged: Record<string, unknown> = { ...current, ...rest };
  if (cwd === null) delete merged.cwd;
  else if (cwd !== undefined) merged.cwd = cwd;
  return ProcessSpec.safeParse(merged);
}

/** A machine's whole list, as sent in `config_update`. A higher version always wins; the agent ignores older ones. */
export const ProcessConfig = z
  .object({
    version: z.number().int().positive(),
    processes: z.array(ProcessSpec).max(MAX_PROCESSES_PER_NODE),
  })
  .refine((c) => new Set(c.processes.map((p) => p.name)).size === c.processes.length, "process names must be unique");
export type ProcessConfig = z.output<typeof ProcessConfig>;

// ---- what the agent reports ----

/**
 * stopped: not meant to run now; waiting: due, its start delay or backoff not yet over; starting: running, not yet
 * past its startup time; running; stopping: stop signal sent; gave_up: too many failed relaunches; refused: the
 * tier or the machine does not allow its configuration.
 */
export const ProcessState = z.enum(["stopped", "waiting", "starting", "running", "stopping", "gave_up", "refused"]);
export type ProcessState = z.infer<typeof ProcessState>;

export const ProcessEventKind = z.enum(["started", "exited", "crashed", "start_failed", "restarted", "gave_up", "stopped"]);
export type ProcessEventKind = z.infer<typeof ProcessEventKind>;

/** Exit codes are 0-255; a signal is named like SIGTERM. */
const ExitCode = z.number().int().min(0).max(255).nullable();
const SignalName = z.string().max(15).regex(/^SIG[A-Z0-9+-]{1,12}$/).nullable();

export const ProcessExit = z.object({
  at: z.number(),
  kind: z.enum(["exited", "crashed", "start_failed", "stopped"]),
  code: ExitCode,
  signal: SignalName,
});
export type ProcessExit = z.infer<typeof ProcessExit>;

export const ProcessStatus = z.object({
  name: ProcessName,
  state: ProcessState,
  pid: z.number().int().positive().nullable(),
  /** When the running instance started (epoch ms). */
  startedAt: z.number().nullable(),
  /** Relaunches after unasked exits since the agent got this configuration. */
  restarts: z.number().int().nonnegative(),
  lastExit: ProcessExit.nullable(),
  /** CPU of the process and everything in its process group, percent of one core, since the last report. */
  cpuPercent: z.number().nonnegative().nullable(),
  /** Resident memory of the process group. */
  memoryBytes: z.number().int().nonnegative().nullable(),
  /** A start or stop by hand that overrides the launch mode until the mode agrees or the configuration changes. */
  held: z.enum(["running", "stopped"]).nullable(),
  /** When a waiting process will be started. */
  nextStartAt: z.number().nullable(),
  /** Why it is refused or gave up. */
  reason: z.string().max(1024).nullable(),
});
export type ProcessStatus = z.infer<typeof ProcessStatus>;

/** What a heartbeat carries about supervision: the configuration the agent runs and each process's state. */
export const SupervisionStatus = z.object({
  /** The version of the list the agent runs; null before it ever got one. */
  configVersion: z.number().int().positive().nullable(),
  /** The machine's time zone, in which schedules are read (IANA name). */
  timeZone: z.string().max(64),
  processes: z.array(ProcessStatus).max(MAX_PROCESSES_PER_NODE),
});
export type SupervisionStatus = z.infer<typeof SupervisionStatus>;

export const ProcessEventId = z.string().max(39).regex(/^pe-[0-9a-f-]{36}$/, "not a process event id");

/**
 * Something that happened to a supervised process. Every exit is exactly one of exited (ended on its own with code
 * 0), crashed (ended on its own otherwise), start_failed (could not be spawned, or ended before its startup time) or
 * stopped (asked to); started and restarted say an instance got past its startup time (restarted: replacing one that
 * ended); gave_up says the relaunch attempts are used up.
 */
export const ProcessEvent = z.object({
  id: ProcessEventId,
  name: ProcessName,
  kind: ProcessEventKind,
  at: z.number(),
  pid: z.number().int().positive().nullable().optional(),
  exitCode: ExitCode.optional(),
  signal: SignalName.optional(),
  /** How long the instance had run, for exits. */
  uptimeMs: z.number().nonnegative().optional(),
  /** For relaunches: this attempt's number within the window, and the most allowed. */
  attempt: z.number().int().positive().optional(),
  maxAttempts: z.number().int().nonnegative().optional(),
  /** For an unasked exit that will be relaunched: in how long. */
  retryInMs: z.number().nonnegative().optional(),
  /** Who or what asked for a start or stop: a person through the hub, the schedule, a configuration change. */
  cause: z.enum(["request", "schedule", "config", "supervisor"]).optional(),
  reason: z.string().max(1024).optional(),
});
export type ProcessEvent = z.infer<typeof ProcessEvent>;

// ---- the hub's API ----

export const ProcessView = z.object({
  name: ProcessName,
  spec: ProcessSpec,
  /** The agent's latest report, or null when it has not reported this process (yet). */
  status: ProcessStatus.nullable(),
  updatedAt: z.number(),
  updatedBy: z.string(),
});
export type ProcessView = z.infer<typeof ProcessView>;

export const ProcessListResponse = z.object({
  nodeId: z.string(),
  /** The version of the list on the hub, and the one the agent last said it runs (equal once it has it). */
  configVersion: z.number().int().nonnegative(),
  appliedVersion: z.number().int().positive().nullable(),
  reportedAt: z.number().nullable(),
  timeZone: z.string().nullable(),
  processes: z.array(ProcessView),
  /** Set when env values and arguments were passed through the redactor for a reader below risk tier 2. */
  redacted: z.boolean(),
});
export type ProcessListResponse = z.infer<typeof ProcessListResponse>;

export const ProcessLogsQuery = z.object({ lines: z.coerce.number().int().min(1).max(MAX_PROCESS_LOG_LINES).default(200) });

export const ProcessLogsResponse = z.object({ name: ProcessName, text: z.string() });
export type ProcessLogsResponse = z.infer<typeof ProcessLogsResponse>;

export const ProcessOperation = z.enum(["start", "stop", "restart"]);
export type ProcessOperation = z.infer<typeof ProcessOperation>;

/** How a start, stop or restart went, as the agent answered. */
export const ProcessActionResponse = z.object({
  name: ProcessName,
  operation: ProcessOperation,
  ok: z.boolean(),
  message: z.string(),
  directiveId: z.string(),
  status: ProcessStatus.nullable(),
});
export type ProcessActionResponse = z.infer<typeof ProcessActionResponse>;
