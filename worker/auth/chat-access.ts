import type { RiskTier } from "../../protocol/action-risk.ts";
import type { ChatCaller } from "../../durable-objects/conversation/conversation.ts";
import { authorize } from "./authorize.ts";
import { principalId, type Principal } from "./principal.ts";

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

/** The caller as a conversation records them. Only for principals the route guard let in (never anonymous). */
export function chatCaller(principal: Principal): ChatCaller {
  const id = principalId(principal);
  if (id === null) throw new Error("a chat route let an anonymous caller through");
  return { id, label: principal.label };
}
