/** Entry point of the detached watcher process of one long run: `run-watcher.ts <run dir>`. */
import { superviseRun } from "./run-supervisor.ts";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: run-watcher <run dir>\n");
  process.exit(2);
}
await superviseRun(dir);
