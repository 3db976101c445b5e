import type { RiskTier } from "../../protocol/action-risk.ts";
import type { ChatCaller } from "../../durable-objects/conversation/conversation.ts";
import { authorize } from "./authorize.ts";
import type { AppContext } from "../routes/site-context.ts";
import { principalId, type Principal } from "./principal.ts";
import { requesterOf } from "./requester.ts";

/**
 * The highest tool risk tier the caller's answers may use on the site, asked of `authorize` tier by tier: site
 * admins and superadmins 3, members and read or chat API keys 1. The model is offered nothing above it.
 */
export function chatToolTier(principal: Principal, site: string): RiskTier {
  for (const tier of [3, 2] as const) {
    if (authorize(principal, { id: site, exists: true }, { permission: "directives.run", tier }).allowed) return tier;
  }
  return 1;
}

/**
 * The caller as a conversation records them, confined to the readable paths when `authorize` says so. Only for
 * routes whose guard let a principal in (never anonymous).
 */
export function chatCaller(c: AppContext): ChatCaller {
  const principal = c.get("principal");
  const id = principalId(principal);
  if (id === null) throw new Error("a chat route let an anonymous caller through");
  return { id, label: principal.label, confined: requesterOf(c).confined };
}
