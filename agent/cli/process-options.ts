import { readFileSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import { parseScheduleWindow, ProcessName, StopSignal, type ProcessSpecInput, type ScheduleWindow } from "../../protocol/processes.ts";
import { CliError } from "./cli-error.ts";

/**
 * The flags of `cortex process add` and `edit`, turned into a process configuration (or a change to one). Every value
 * is checked by the protocol's schema afterwards; these parsers only turn the words people type into its shape.
 */

export function processName(value: string): string {
  const parsed = ProcessName.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

/** `KEY=value`, collected into one environment. */
export function envPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected NAME=value, got "${value}"`);
  const name = value.slice(0, eq);
  if (Object.hasOwn(previous, name)) throw new InvalidArgumentError(`${name} is given twice`);
  return { ...previous, [name]: value.slice(eq + 1) };
}

/** `mon-fri 08:00-18:00` and the like, collected into a schedule. */
export function scheduleWindow(value: string, previous: ScheduleWindow[] = []): ScheduleWindow[] {
  const window = parseScheduleWindow(value);
  if (typeof window === "string") throw new InvalidArgumentError(window);
  return [...previous, window];
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("expected a number of seconds, 0 or more");
  return n;
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number, 0 or more");
  return n;
}

/** The options both `add` and `edit` take. */
export function addProcessOptions(command: Command): Command {
  return command
    .option("--shell", "run the command line through /bin/sh -c (give it as one argument after --)")
    .option("--cwd <dir>", "working folder on the machine (absolute)")
    .option("--env <NAME=value>", "environment variable (repeat for more)", envPair)
    .addOption(new Option("--mode <mode>", "launch mode").choices(["always", "scheduled", "off"]))
    .option("--schedule <window>", 'when a scheduled process runs, e.g. "mon-fri 08:00-18:00" (repeat for more windows)', scheduleWindow)
    .option("--startup <s>", "seconds it must stay up to count as started", seconds)
    .option("--start-delay <s>", "seconds to wait before starting it when it becomes due", seconds)
    .addOption(new Option("--stop-signal <signal>", "signal that asks it to stop").choices(StopSignal.options))
    .option("--stop-grace <s>", "seconds between the stop signal and SIGKILL", seconds)
    .option("--max-restarts <n>", "relaunches allowed within the restart window before giving up", count)
    .option("--restart-window <s>", "the window in which relaunches are counted", seconds)
    .option("--backoff <s>", "wait before the first relaunch, doubled for each further one", seconds)
    .option("--max-backoff <s>", "the longest wait between relaunches", seconds)
    .option("--log-max-bytes <n>", "size at which its log is rotated", count)
    .option("--log-keep <n>", "rotated logs kept", count)
    .option("--file <file>", "read the whole configuration (or change) from a JSON file instead of flags");
}

export interface ProcessFlags {
  shell?: boolean;
  cwd?: string;
  env?: Record<string, string>;
  mode?: "always" | "scheduled" | "off";
  schedule?: ScheduleWindow[];
  startup?: number;
  startDelay?: number;
  stopSignal?: StopSignal;
  stopGrace?: number;
  maxRestarts?: number;
  restartWindow?: number;
  backoff?: number;
  maxBackoff?: number;
  logMaxBytes?: number;
  logKeep?: number;
  file?: string;
  json?: boolean;
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The configuration fields the flags set. `restart` and `log` are built on `base` (the current ones, for an edit),
 * since the hub replaces those objects whole.
 */
export function fieldsOf(flags: ProcessFlags, words: string[], base: Partial<ProcessSpecInput> = {}): Partial<ProcessSpecInput> {
  const restart = defined({ maxAttempts: flags.maxRestarts, windowSeconds: flags.restartWindow, backoffSeconds: flags.backoff, maxBackoffSeconds: flags.maxBackoff });
  const log = defined({ maxBytes: flags.logMaxBytes, keep: flags.logKeep });
  const command = words.length === 0 ? {} : flags.shell ? { command: words.join(" "), args: [], shell: true } : { command: words[0]!, args: words.slice(1), shell: false };
  return defined({
    ...command,
    cwd: flags.cwd,
    env: flags.env,
    launchMode: flags.mode ?? (flags.schedule ? "scheduled" : undefined),
    schedule: flags.schedule,
    startupSeconds: flags.startup,
    startDelaySeconds: flags.startDelay,
    stopSignal: flags.stopSignal,
    stopGraceSeconds: flags.stopGrace,
    restart: Object.keys(restart).length ? { ...base.restart, ...restart } : undefined,
    log: Object.keys(log).length ? { ...base.log, ...log } : undefined,
  });
}

export function readJsonFile(file: string, cwd: string): unknown {
  try {
    return JSON.parse(readFileSync(file.startsWith("/") ? file : `${cwd}/${file}`, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
}
