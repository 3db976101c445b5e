import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

// Resolved here rather than named as `--import tsx`, which Node would look up from the child's working directory.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** How to start another of the agent's own scripts (the run watcher, the action worker) as a Node process. */
export function agentScriptCommand(script: URL, args: string[] = []): { file: string; args: string[] } {
  return { file: process.execPath, args: ["--import", TSX_LOADER, fileURLToPath(script), ...args] };
}
