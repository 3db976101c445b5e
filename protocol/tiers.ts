import * as z from "zod";

/** Capability tier of a node, from most to least powerful. */
export const CapabilityTier = z.enum(["root", "sudo", "unprivileged"]);
export type CapabilityTier = z.infer<typeof CapabilityTier>;

const RANK: Record<CapabilityTier, number> = { unprivileged: 0, sudo: 1, root: 2 };

/** True when `tier` grants no more than `ceiling`: a node may run lower than registered, never higher. */
export function tierWithin(tier: CapabilityTier, ceiling: CapabilityTier): boolean {
  return RANK[tier] <= RANK[ceiling];
}
