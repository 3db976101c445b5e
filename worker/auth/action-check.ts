import { riskOf, type RiskTier } from "../../protocol/action-risk.ts";
import type { ActionName } from "../../protocol/directives.ts";
import { apiError } from "../http/api-error.ts";
import type { AppContext } from "../routes/site-context.ts";
import { authorize } from "./authorize.ts";

/**
 * Asks `authorize` whether the caller may run (or cancel) this action on the route's site, by the action's risk
 * tier. The route guard has already allowed `directives.run` at the lowest tier; this is the check by action.
 * Returns the refusal to answer with, or null when allowed.
 */
export function refuseAction(c: AppContext, action: ActionName): Response | null {
  const decision = authorize(c.get("principal"), { id: c.get("site"), exists: true }, { permission: "directives.run", tier: riskOf(action) });
  return decision.allowed ? null : apiError(c, decision.status, decision.code, decision.message);
}

/** Asks `authorize` whether the caller may make a change of this risk tier to the site's supervised processes. */
export function refuseProcessChange(c: AppContext, tier: RiskTier): Response | null {
  const decision = authorize(c.get("principal"), { id: c.get("site"), exists: true }, { permission: "processes.manage", tier });
  return decision.allowed ? null : apiError(c, decision.status, decision.code, decision.message);
}
