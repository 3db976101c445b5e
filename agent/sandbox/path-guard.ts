import type { ActionCall } from "../../protocol/directives.ts";
import { confinementRefusal } from "../../protocol/read-confinement.ts";
import { evaluateTier } from "../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { ActionError } from "../actions/action-error.ts";

/**
 * The agent's early, friendly refusal, on the paths as written: the same checks the hub made (tier, and the caller's
 * confinement). It proves nothing about where a path really leads; the file actions check what they open
 * (agent/sandbox/verified-fs.ts) and the OS user bounds the rest.
 */
export function admitCall(call: ActionCall, tier: CapabilityTier, sandboxRoot: string, confineTo: readonly string[] | null): void {
  const decision = evaluateTier(tier, call, { sandboxRoot });
  if (!decision.allowed) throw new ActionError("tier_refused", decision.reason);
  const refusal = confineTo ? confinementRefusal(call, confineTo) : null;
  if (refusal) throw new ActionError("tier_refused", refusal);
}
