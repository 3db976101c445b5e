/** Entry point of the one-file agent the hub serves: the `cortex` CLI, or the watcher of a long run it started. */
import { RUN_WATCHER_FLAG } from "./bundle.ts";

if (process.argv[2] === RUN_WATCHER_FLAG) {
  // run-watcher.ts reads its run folder from argv[2], as when a checkout starts it as a script.
  process.argv.splice(2, 1);
  await import("./runs/run-watcher.ts");
} else {
  await import("./cli/main.ts");
}
