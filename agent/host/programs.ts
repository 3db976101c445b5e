import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { ActionError } from "../actions/action-error.ts";
import { terminateGroup, waitForExit } from "../actions/process-group.ts";
import type { TrackedProcesses } from "../processes/tracked-processes.ts";
import type { HostEnvironment } from "./host-environment.ts";

/** What a program run needs from the action running it (an `ActionContext` fits). */
export interface ProgramRun {
  signal: AbortSignal;
  killGraceMs: number;
  host: Pick<HostEnvironment, "binDirs">;
  /** Starts the program as the action user, tracked with the directive. */
  processes: Pick<TrackedProcesses, "spawn" | "runsAsRoot">;
}

export interface ProgramOptions {
  timeoutMs?: number;
  /** Output kept per stream; the rest is read and dropped so the program never blocks on a full pipe. */
  maxBytes?: number;
  /** Run with root's rights: directly when actions run as root, otherwise through `sudo -n`, which sudoers decides. */
  asRoot?: boolean;
  /** On timeout, return what was printed so far (with `timedOut`) instead of failing. */
  partialOnTimeout?: boolean;
  /** A descriptor the program gets as its fd 3 (a verified folder it names as /proc/self/fd/3). */
  fd3?: number;
}

export interface ProgramResult {
  code: number | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;

/** The program's full path in one of `binDirs`, or null when it is not installed there. */
export function findProgram(binDirs: readonly string[], name: string): string | null {
  const file = process.platform === "win32" && !name.endsWith(".exe") ? `${name}.exe` : name;
  for (const dir of binDirs) {
    const candidate = join(dir, file);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return null;
}

export function requireProgram(binDirs: readonly string[], name: string): string {
  const path = findProgram(binDirs, name);
  if (!path) throw new ActionError("unsupported", `${name} is not installed on this machine (looked in ${binDirs.join(", ")})`);
  return path;
}

/**
 * A small, fixed environment: no token or secret of the agent's reaches a program, output is in a stable locale,
 * and nothing waits for a pager or a password.
 */
function programEnv(binDirs: readonly string[]): NodeJS.ProcessEnv {
  if (process.platform === "win32") return process.env;
  return {
    PATH: binDirs.join(":"),
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    PAGER: "cat",
    SYSTEMD_PAGER: "",
    SYSTEMD_COLORS: "0",
    ...(process.env.TZ !== undefined && { TZ: process.env.TZ }),
  };
}

const SUDO_REFUSAL = /password is required|is not allowed to execute|not in the sudoers|may not run sudo|a terminal is required/i;

class Collector {
  private readonly parts: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly max: number) {}

  readonly take = (data: Buffer): void => {
    const room = this.max - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = data.length > room ? data.subarray(0, room) : data;
    if (part.length < data.length) this.truncated = true;
    this.parts.push(part);
    this.size += part.length;
  };

  text(): string {
    return Buffer.concat(this.parts).toString("utf8");
  }
}

/**
 * Runs a system program without a shell: an argument array, so no input can become a shell word; its own process
 * group, killed whole on timeout or cancel; a small environment; output capped. Fails with `unsupported` when the
 * program is missing, `tier_refused` when sudo will not run it, `timeout` or `cancelled`; otherwise returns the exit
 * code and output for the caller to judge.
 */
export async function runProgram(run: ProgramRun, name: string, args: readonly string[], options: ProgramOptions = {}): Promise<ProgramResult> {
  const { binDirs } = run.host;
  const program = requireProgram(binDirs, name);
  const viaSudo = options.asRoot === true && !run.processes.runsAsRoot;
  const file = viaSudo ? requireProgram(binDirs, "sudo") : program;
  const argv = viaSudo ? ["-n", "--", program, ...args] : [...args];
  run.signal.throwIfAborted();

  const child = run.processes.spawn(file, argv, { env: programEnv(binDirs), stdio: ["ignore", "pipe", "pipe", ...(options.fd3 === undefined ? [] : [options.fd3])] });
  const stdout = new Collector(options.maxBytes ?? DEFAULT_MAX_BYTES);
  const stderr = new Collector(64 * 1024);
  child.stdout!.on("data", stdout.take);
  child.stderr!.on("data", stderr.take);

  let timedOut = false;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    if (child.pid !== undefined && !stopping) stopping = terminateGroup(child.pid, run.killGraceMs);
  };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, timeoutMs);
  run.signal.addEventListener("abort", stop, { once: true });
  const exit = await waitForExit(child).finally(() => {
    clearTimeout(timer);
    run.signal.removeEventListener("abort", stop);
  });
  await stopping;
  run.signal.throwIfAborted();
  if (exit.error) throw new ActionError("exec_failed", `could not start ${name}: ${exit.error.message}`);
  const result = { code: exit.code, stdout: stdout.text(), stderr: stderr.text(), truncated: stdout.truncated, timedOut };
  if (timedOut && !options.partialOnTimeout) throw new ActionError("timeout", `${name} did not finish within ${Math.round(timeoutMs / 1000)} s`);
  if (viaSudo && exit.code === 1 && SUDO_REFUSAL.test(result.stderr)) {
    throw new ActionError("tier_refused", `sudoers on this machine does not let the agent's user run ${name} ${args.join(" ")} without a password`);
  }
  return result;
}

/** The program's complaint, or its exit status when it said nothing. */
export function programFailure(name: string, result: ProgramResult): string {
  const said = (result.stderr.trim() || result.stdout.trim()).split("\n").slice(0, 5).join("\n");
  return said ? `${name}: ${said}` : `${name} exited with ${result.code ?? "a signal"}`;
}
