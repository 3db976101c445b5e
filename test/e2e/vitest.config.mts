import { defineConfig } from "vitest/config";

/**
 * End-to-end tests: a real hub under wrangler dev and real agent and CLI processes. One file at a time (each starts
 * its own hub; the machine has two cores), with timeouts sized for a loaded CI machine.
 */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
