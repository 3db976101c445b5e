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

/** Admins run anything; members only the read-only actions (risk tier 1 in protocol/action-risk.ts). */
export function runnableActions(role: Role | null): readonly ActionName[] {
  if (isAdmin(role)) return CONSOLE_ACTIONS;
  return role === "member" ? CONSOLE_ACTIONS.filter((a) => ACTION_RISK[a] <= READ_ONLY_RISK) : [];
}

/** Roost: push, deploy, promote, abort and roll back (site admins; members see roosts and deployments). */
export function canDeploy(role: Role | null): boolean {
  return isAdmin(role);
}
