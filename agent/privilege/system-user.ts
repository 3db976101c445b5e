import { execFileSync } from "node:child_process";
import { StartupError } from "./startup-error.ts";

function exists(name: string): boolean {
  try {
    execFileSync("getent", ["passwd", name], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a dedicated system user for a node's actions, as the installer does: its own group, no home, no login
 * shell, no password. Does nothing when it exists. Needs root.
 */
export function ensureSystemUser(name: string): void {
  if (exists(name)) return;
  try {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name], {
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (err) {
    // Two processes creating the same user at once: the loser finds it made.
    if (exists(name)) return;
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new StartupError(`cannot create the user ${name}: ${stderr || (err as Error).message}`);
  }
}
