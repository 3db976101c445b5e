import { fileURLToPath } from "node:url";

// Replaced with a string literal by the bundle build (scripts/build-agent.ts); undeclared when run from a checkout.
declare const CORTEX_BUNDLE_VERSION: string | undefined;

/** The version of the bundle the hub serves (`<package version>+<build id>`); undefined when run from a checkout. */
export const BUNDLE_VERSION: string | undefined = typeof CORTEX_BUNDLE_VERSION === "string" ? CORTEX_BUNDLE_VERSION : undefined;

/** The bundle file itself, which helper processes (the watcher of a long run) are started from. */
export const BUNDLE_FILE: string | undefined = BUNDLE_VERSION === undefined ? undefined : fileURLToPath(import.meta.url);

/** First argument that makes the bundle run as a long run's watcher instead of the CLI. */
export const RUN_WATCHER_FLAG = "--cortex-run-watcher";

/** First argument that makes the bundle run as the action worker (agent/worker/action-worker.ts). */
export const ACTION_WORKER_FLAG = "--cortex-action-worker";
