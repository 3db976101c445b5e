import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ActionError } from "../actions/action-error.ts";
import { BUNDLE_FILE, RUN_WATCHER_FLAG } from "../bundle.ts";
import { utf8Tail } from "../directives/utf8.ts";
import { RunStatus, readJson, runFiles } from "./run-files.ts";

/** How long a new watcher has to write its first status before the launch counts as failed. */
export const STARTUP_TIMEOUT_MS = 15_000;
const POLL_MS = 25;

const WATCHER_SCRIPT = fileURLToPath(new URL("./run-watcher.ts", import.meta.url));

/** The watcher runs this same code in a process of its own: from the bundle the hub serves, or from a checkout. */
function watcherArgs(dir: string): string[] {
  if (BUNDLE_FILE !== undefined) return [BUNDLE_FILE, RUN_WATCHER_FLAG, dir];
  // Resolved here rather than named as `--import tsx`, which Node would look up from the watcher's working directory.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return ["--import", tsx, WATCHER_SCRIPT, dir];
}

/** Whether a process's arguments are those of a long-run watcher, started from the bundle or from a checkout. */
export function isWatcherArgv(argv: readonly string[]): boolean {
  return argv.includes(WATCHER_SCRIPT) || (BUNDLE_FILE !== undefined && argv.includes(RUN_WATCHER_FLAG));
}

/**
 * Starts the detached watcher of the run in `dir` (its spec already written) and resolves with its first status,
 * once the command is running. The watcher is not tied to this process: the run outlives the agent.
 */
export async function startWatcher(dir: string, onExit: () => void): Promise<RunStatus> {
  const files = runFiles(dir);
  const logFd = openSync(files.watcherLog, "a");
  let exited = false;
  const watcher = spawn(process.execPath, watcherArgs(dir), {
    cwd: dir,
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
