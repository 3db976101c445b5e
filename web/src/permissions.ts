import { ACTION_RISK, READ_ONLY_RISK } from "../../protocol/action-risk.ts";
import type { ActionName } from "../../protocol/directives.ts";
import type { Role } from "./session.ts";

/**
 * What the signed-in person may do on the current site, mirrored from the hub's rules so that no control they may
 * not use is ever shown. The hub enforces the same rules on every request; this only decides what to draw.
 */

/** What the dashboard's console and "Run on many" offer to people who may run anything. */
export const CONSOLE_ACTIONS: readonly ActionName[] = ["bash", "read", "glob", "grep"];

export function isAdmin(role: Role | null): boolean {
  return role === "admin" || role === "superadmin";
}

/** Register, rekey and remove machines. */
export function canManageNodes(role: Role | null): boolean {
  return isAdmin(role);
}

/** Members, invites and roles of the site. */
export function canManageSite(role: Role | null): boolean {
  return isAdmin(role);
}

/** Whether the person may run (and so cancel) an action: admins any, members the read-only ones (risk tier 1). */
export function mayRun(role: Role | null, action: ActionName): boolean {
  if (isAdmin(role)) return true;
  return role === "member" && ACTION_RISK[action] <= READ_ONLY_RISK;
}

/** The console's actions this person may run (protocol/action-risk.ts decides which are read-only). */
export function runnableActions(role: Role | null): readonly ActionName[] {
  return CONSOLE_ACTIONS.filter((a) => mayRun(role, a));
}

/** Roost: push, deploy, promote, abort and roll back (site admins; members see roosts and deployments). */
export function canDeploy(role: Role | null): boolean {
  return isAdmin(role);
}
