import * as z from "zod";
import { isWithin, pathDecision } from "../../protocol/tier-policy.ts";
import { normalizePath } from "../../protocol/paths.ts";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { ActionError } from "../actions/action-error.ts";

/** What limits the paths of one directive: the node's tier and sandbox, and the caller's `confineTo` folders. */
export const PolicySpec = z.object({
  tier: CapabilityTier,
  /** The sandbox's real path, checked at start. */
  sandboxRoot: z.string(),
  confineTo: z.array(z.string()).nullable(),
});
export type PolicySpec = z.infer<typeof PolicySpec>;

/**
 * The judge of real paths: file actions ask it about what they actually opened (a descriptor's real path), never
 * about the path string they were given.
 */
export class PathPolicy {
  private readonly confineTo: string[] | null;

  constructor(readonly spec: PolicySpec) {
    // As written, never resolved: a symlink at a readable path (or in a folder above it) would otherwise move the
    // boundary to wherever its owner points it, `/` included. A readable path that is itself a link reads nothing.
    this.confineTo = spec.confineTo?.map(normalizePath) ?? null;
  }

  /** Nothing to check: tier root and no confinement. */
  get unrestricted(): boolean {
    return this.spec.tier === "root" && this.confineTo === null;
  }

  /** Why `real` may not be touched, or null. */
  refusal(real: string): string | null {
    const decision = pathDecision(this.spec.tier, real, { sandboxRoot: this.spec.sandboxRoot });
    if (!decision.allowed) return decision.reason;
    if (this.confineTo && !this.confineTo.some((folder) => isWithin(real, folder))) {
      return `path ${real} is outside the folders this caller may use (${this.confineTo.join(", ")})`;
    }
    return null;
  }

  /**
   * Whether the caller may be told of this path (a link's target, as written), not whether it may be opened: anyone
   * but a confined caller, and a confined one only for a path inside its folders, as written.
   */
  mayName(path: string): boolean {
    return this.confineTo === null || this.confineTo.some((folder) => isWithin(normalizePath(path), folder));
  }

  allows(real: string): boolean {
    return this.refusal(real) === null;
  }

  check(real: string): void {
    const reason = this.refusal(real);
    if (!reason) return;
    // A confined caller (a member, a read key) learns that the path is refused, not where a link in it led: the name
    // of something outside the folders they may read is itself outside them.
    throw new ActionError("tier_refused", this.confineTo ? `the path leads outside the folders this caller may use (${this.confineTo.join(", ")})` : reason);
  }
}
