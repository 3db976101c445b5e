import type { WorkerIdentity } from "./worker-messages.ts";

function sameSet(a: number[], b: number[]): boolean {
  const left = [...new Set(a)].sort((x, y) => x - y);
  const right = [...new Set(b)].sort((x, y) => x - y);
  return left.length === right.length && left.every((value, i) => value === right[i]);
}

/**
 * Turns this process (started as root) into the action user for good: exactly the user's groups, then its gid, then
 * its uid (setuid from root sets real, effective and saved ids, and clears the capabilities). Checked afterwards,
 * including that root cannot be taken back.
 */
export function dropPrivileges(identity: WorkerIdentity): void {
  process.setgroups!(identity.groups);
  process.setgid!(identity.gid);
  process.setuid!(identity.uid);
  const ok =
    process.getuid!() === identity.uid &&
    process.geteuid!() === identity.uid &&
    process.getgid!() === identity.gid &&
    process.getegid!() === identity.gid &&
    sameSet(process.getgroups!(), identity.groups);
  if (!ok) throw new Error(`could not become ${identity.name}`);
  let regained = true;
  try {
    process.setuid!(0);
  } catch {
    regained = false;
  }
  if (regained) throw new Error(`switching to ${identity.name} could be undone`);
}
