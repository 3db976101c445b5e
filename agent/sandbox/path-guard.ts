import type { ActionCall } from "../../protocol/directives.ts";
import { normalizePath } from "../../protocol/paths.ts";
import { evaluateTier, isWithin, pathsOfCall } from "../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { ActionError } from "../actions/action-error.ts";

/**
 * The agent's early, friendly refusal, on the paths as written: the same check the hub made, plus the caller's
 * confinement. It proves nothing about where a path really leads; the file actions check what they open
 * (agent/sandbox/verified-fs.ts) and the OS user bounds the rest.
 */
export function admitCall(call: ActionCall, tier: CapabilityTier, sandboxRoot: string, confineTo: readonly string[] | null): void {
  const decision = evaluateTier(tier, call, { sandboxRoot });
  if (!decision.allowed) throw new ActionError("tier_refused", decision.reason);
  if (!confineTo) return;
  if (call.action === "bash" || call.action === "run.launch") {
    throw new ActionError("tier_refused", `${call.action} cannot be confined to folders; this caller may only read`);
  }
  for (const path of pathsOfCall(call)) {
    if (!confineTo.some((folder) => isWithin(path, folder))) {
      throw new ActionError("tier_refused", `path ${normalizePath(path)} is outside the folders this caller may use (${confineTo.join(", ")})`);
    }
  }
}
