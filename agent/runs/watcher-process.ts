import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { ActionError } from "../actions/action-error.ts";
import { RUN_WATCHER_FLAG } from "../bundle.ts";
import { utf8Tail } from "../directives/utf8.ts";
import { agentScriptCommand, isAgentScriptArgv } from "../processes/agent-script.ts";
import { RunStatus, readJson, runFiles } from "./run-files.ts";

/** How long a new watcher has to write its first status before the launch counts as failed. */
export const STARTUP_TIMEOUT_MS = 15_000;
const POLL_MS = 25;

const WATCHER_SCRIPT = new URL("./run-watcher.ts", import.meta.url);
/** The watcher needs nothing of the agent's environment, and must not hand its token on to the run. */
const WATCHER_ENV_KEYS = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "SystemRoot"] as const;

/** Whether a process's arguments are those of a long-run watcher, started from the bundle or from a checkout. */
export function isWatcherArgv(argv: readonly string[]): boolean {
  return isAgentScriptArgv(argv, WATCHER_SCRIPT, RUN_WATCHER_FLAG);
}

/**
 * Starts the detached watcher of the run in `dir` (its spec already written) and resolves with its first status,
 * once the command is running. The watcher is not tied to this process: the run outlives the agent.
 */
export async function startWatcher(dir: string, onExit: () => void): Promise<RunStatus> {
  const files = runFiles(dir);
  const logFd = openSync(files.watcherLog, "a");
  let exited = false;
  const command = agentScriptCommand(WATCHER_SCRIPT, RUN_WATCHER_FLAG, [dir]);
  const env = Object.fromEntries(WATCHER_ENV_KEYS.filter((key) => process.env[key] !== undefined).map((key) => [key, process.env[key]]));
  const watcher = spawn(command.file, command.args, {
    cwd: dir,
    env,
    detached: true,
    stdio: ["ignore", "ignore", logFd],
    windowsHide: true,
  });
  closeSync(logFd);
  watcher.once("error", () => (exited = true));
  watcher.once("exit", () => {
    exited = true;
    onExit();
  });
  watcher.unref();

  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const status = readJson(files.status, RunStatus);
    if (status) return status;
    if (exited || Date.now() > deadline) break;
    await sleep(POLL_MS);
  }
  watcher.kill("SIGKILL");
  const log = utf8Tail(readFileSync(files.watcherLog, "utf8").trim(), 2_000);
  throw new ActionError("exec_failed", `the run watcher did not start${log ? `: ${log}` : ""}`);
}
