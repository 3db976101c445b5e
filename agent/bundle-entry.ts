/** Entry point of the one-file agent the hub serves: the `cortex` CLI, or one of the helper processes it starts. */
import { ACTION_WORKER_FLAG, RUN_WATCHER_FLAG } from "./bundle.ts";

const helper = process.argv[2];
if (helper === RUN_WATCHER_FLAG || helper === ACTION_WORKER_FLAG) {
  // The helpers read their own arguments from argv[2], as when a checkout starts them as scripts.
  process.argv.splice(2, 1);
  await (helper === RUN_WATCHER_FLAG ? import("./runs/run-watcher.ts") : import("./worker/action-worker.ts"));
} else {
  await import("./cli/main.ts");
}
