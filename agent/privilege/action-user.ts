import { execFileSync } from "node:child_process";
import os from "node:os";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { StartupError } from "./startup-error.ts";

/** The OS identity every action of this agent runs as. */
export interface ActionUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups, as initgroups(3) gives them to a login of this user (the primary group included). */
  groups: number[];
  home: string;
  shell: string;
  /**
   * True when the agent (root) switches to this user for every action; false when actions run as the agent's own
   * user, either because the tier is root or because an agent that is not root cannot switch.
   */
  switched: boolean;
}

export interface ActionUserOptions {
  tier: CapabilityTier;
  /** `--run-as`: the user actions run as at tiers sudo and unprivileged. */
  runAs?: string;
}

function command(file: string, args: string[]): string | null {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return null;
  }
}

/** The passwd entry through NSS (`getent`), so users from LDAP or systemd-homed count as much as /etc/passwd ones. */
function passwdEntry(name: string): Omit<ActionUser, "groups" | "switched"> | null {
  const line = command("getent", ["passwd", name]);
  const fields = line?.split("\n")[0]?.split(":");
  if (!fields || fields.length < 7) return null;
  const [user, , uid, gid, , home, shell] = fields as [string, string, string, string, string, string, string];
  return { name: user, uid: Number(uid), gid: Number(gid), home: home || "/", shell: shell || "/bin/sh" };
}

function supplementaryGroups(name: string, gid: number): number[] {
  const line = command("id", ["-G", name]);
  const groups = line ? line.split(/\s+/).map(Number).filter(Number.isInteger) : [];
  return [...new Set([gid, ...groups])];
}

/** The agent's own identity: what actions run as when it does not (or cannot) switch. */
export function currentUser(): ActionUser {
  const info = os.userInfo();
  const gid = process.getgid?.() ?? info.gid;
  return {
    name: info.username,
    uid: info.uid,
    gid,
    groups: process.getgroups?.() ?? [gid],
    // Same user as the agent, so the agent's own view of home and PATH applies.
    home: process.env.HOME || info.homedir,
    shell: info.shell ?? "/bin/sh",
    switched: false,
  };
}

const VALID_NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/**
 * Decides whom actions run as. An agent running as root at tier sudo or unprivileged must be given a user to switch
 * to, which must exist and must not be root or carry root's group: otherwise the agent refuses to start. At tier
 * root, actions run as root. An agent that is not root cannot switch and runs actions as itself.
 */
export function resolveActionUser(options: ActionUserOptions): ActionUser {
  const self = currentUser();
  const isRoot = process.platform !== "win32" && self.uid === 0;
  if (options.tier === "root" || process.platform === "win32") return self;
  if (!isRoot) {
    if (options.runAs !== undefined && options.runAs !== self.name) {
      throw new StartupError(`--run-as ${options.runAs}: only an agent started as root can switch users; this one runs as ${self.name}`);
    }
    return self;
  }
  if (options.runAs === undefined) {
    throw new StartupError(`an agent running as root at tier ${options.tier} needs --run-as <user> (CORTEX_RUN_AS): its actions never run as root`);
  }
  if (!VALID_NAME.test(options.runAs)) throw new StartupError(`--run-as ${JSON.stringify(options.runAs)} is not a valid user name`);
  const entry = passwdEntry(options.runAs);
  if (!entry) throw new StartupError(`--run-as ${options.runAs}: no such user on this machine`);
  if (entry.uid === 0) throw new StartupError(`--run-as ${options.runAs}: that user is root (uid 0); tier ${options.tier} actions never run as root`);
  const groups = supplementaryGroups(entry.name, entry.gid);
  if (groups.includes(0)) throw new StartupError(`--run-as ${options.runAs}: that user belongs to group root (gid 0), which would give its actions root's files`);
  return { ...entry, groups, switched: true };
}
