import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { InstallError } from "./install-error.ts";

/** Longest login name useradd and every libc accept. */
const MAX_USER_NAME = 32;

/** `cortex-<node>`, shortened with a hash of the node id when that is longer than a login name may be. */
export function actionUserName(nodeId: string): string {
  const name = `cortex-${nodeId}`;
  if (name.length <= MAX_USER_NAME) return name;
  const hash = createHash("sha256").update(nodeId).digest("hex").slice(0, 8);
  return `cortex-${nodeId.slice(0, MAX_USER_NAME - "cortex-".length - hash.length - 1)}-${hash}`;
}

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** The account named `name` through NSS (so LDAP users count too), or null. */
export function lookupUser(name: string): OsUser | null {
  let line: string;
  try {
    line = execFileSync("getent", ["passwd", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return null;
  }
  const fields = line.split("\n")[0]!.split(":");
  if (fields.length < 7 || fields[0] !== name) return null;
  return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}

const NO_LOGIN_SHELLS = ["/usr/sbin/nologin", "/sbin/nologin"];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(file: string, args: string[], what: string): void {
  try {
    execFileSync(file, args, { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new InstallError(`${what} failed: ${stderr || (error as Error).message}`);
  }
}

/**
 * A system account for a node's actions: its own group, `home` as home folder (made by the caller), no password and
 * no login shell, so nobody signs in as it; the agent switches to it for each action.
 */
export function createUser(name: string, home: string, nodeId: string): OsUser {
  const shell = NO_LOGIN_SHELLS.find((path) => executable(path)) ?? "/bin/false";
  run(
    "useradd",
    ["--system", "--user-group", "--home-dir", home, "--no-create-home", "--shell", shell, "--comment", `Cortex node ${nodeId} actions`, name],
    `creating user ${name}`,
  );
  const user = lookupUser(name);
  if (!user) throw new InstallError(`useradd created ${name} but it cannot be found`);
  return user;
}

/** Removes the account and its group (userdel removes a user's own group with it). */
export function deleteUser(name: string): void {
  run("userdel", [name], `removing user ${name}`);
}
