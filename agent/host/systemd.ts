import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { ActionError } from "../actions/action-error.ts";
import { requireLinux } from "./procfs.ts";

/** systemd's own test for "booted with systemd" (sd_booted): this folder exists only when it runs as init. */
const SYSTEMD_RUNTIME = "/run/systemd/system";

async function initName(): Promise<string> {
  try {
    return (await readFile("/proc/1/comm", "utf8")).trim();
  } catch {
    return "unknown";
  }
}

/** Fails with `unsupported`, naming what runs as init instead, when there are no systemd units to act on. */
export async function requireSystemd(what: string): Promise<void> {
  requireLinux(what);
  if (existsSync(SYSTEMD_RUNTIME)) return;
  throw new ActionError("unsupported", `systemd is not running on this machine (PID 1 is ${await initName()}), so there are no units for ${what}`);
}

/** The service unit named by a /proc/PID/cgroup file (the deepest `.service` in its path), or null. */
export function unitOfCgroup(cgroup: string): string | null {
  for (const line of cgroup.split("\n")) {
    const path = line.split(":").slice(2).join(":");
    const unit = path.split("/").reverse().find((part) => part.endsWith(".service"));
    if (unit) return unit;
  }
  return null;
}

/** The systemd unit this agent runs in (e.g. `cortex-agent.service`); null when it runs in none. */
export async function ownUnit(): Promise<string | null> {
  try {
    return unitOfCgroup(await readFile("/proc/self/cgroup", "utf8"));
  } catch {
    return null;
  }
}

/** Reads `systemctl show` output (`Key=value` lines) into a map. */
export function parseShow(output: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of output.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return values;
}
