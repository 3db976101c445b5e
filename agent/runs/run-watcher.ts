/** Entry point of the detached watcher process of one long run: `run-watcher.ts <run dir>`. */
import { superviseRun } from "./run-supervisor.ts";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: run-watcher <run dir>\n");
  process.exit(2);
}
superviseRun(dir).catch((err: unknown) => {
  // stderr goes to the run's watcher.log; the status is left running, so the agent reports the run lost.
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
