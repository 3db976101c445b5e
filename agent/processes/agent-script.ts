import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { BUNDLE_FILE } from "../bundle.ts";

/**
 * How to start another of the agent's own scripts (the run watcher, the action worker) as a Node process: from the
 * bundle the hub serves, with the flag that selects the script, or from a checkout through tsx.
 */
export function agentScriptCommand(script: URL, bundleFlag: string, args: string[] = []): { file: string; args: string[] } {
  if (BUNDLE_FILE !== undefined) return { file: process.execPath, args: [BUNDLE_FILE, bundleFlag, ...args] };
  // Resolved here rather than named as `--import tsx`, which Node would look up from the child's working directory.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return { file: process.execPath, args: ["--import", tsx, fileURLToPath(script), ...args] };
}

/** Whether a process's arguments are those of the given script, started from the bundle or from a checkout. */
export function isAgentScriptArgv(argv: readonly string[], script: URL, bundleFlag: string): boolean {
  return argv.includes(fileURLToPath(script)) || (BUNDLE_FILE !== undefined && argv.includes(bundleFlag));
}
