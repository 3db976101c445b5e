import { statSync } from "node:fs";
import { tmpdir } from "node:os";
import { ensureSystemUser } from "../../agent/privilege/system-user.ts";

/**
 * Tests that start agents at tiers sudo and unprivileged as root give them this user to run actions as (created
 * once by the global setup). Not root: agents run actions as the test's own user, and tests of switching are skipped.
 */
export const TEST_ACTION_USER = "cortex-test";
export const IS_ROOT = process.platform !== "win32" && process.getuid?.() === 0;
export const NOT_ROOT_REASON = "needs root: switching users, sudoers and cgroups are tested where the test runs as root (CI does)";

/** The `--run-as` an agent at a lower tier needs in this test run. */
export function testRunAs(): string | undefined {
  return IS_ROOT ? TEST_ACTION_USER : undefined;
}

export function setupTestUser(): void {
  if (IS_ROOT) ensureSystemUser(TEST_ACTION_USER);
}

/**
 * A temp folder the action user can reach. The system's may be closed to other users (some machines, this one
 * included, have /tmp mode 0700); /var/tmp is open to all on every Linux.
 */
export function sharedTempRoot(): string {
  const base = tmpdir();
  return (statSync(base).mode & 0o001) !== 0 || !IS_ROOT ? base : "/var/tmp";
}
