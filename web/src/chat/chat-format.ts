import type { ChatTarget, ToolCallView, Usage } from "../../../protocol/chat.ts";
import { revealHidden } from "../../../protocol/hidden-characters.ts";

/** How the chat names machines, targets, tokens and money. */

/** A machine's name from the live list, else its id (a machine removed since). */
export type NameOf = (nodeId: string) => string;

export function tokens(n: number): string {
  return n.toLocaleString("en-US");
}

export function dollars(micro: number): string {
  if (micro === 0) return "$0";
  const usd = micro / 1_000_000;
  if (usd < 0.0001) return "<$0.0001";
  return `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

export function usageText(u: Usage): string {
  const cost = u.costMicroUsd === null ? "cost unknown" : dollars(u.costMicroUsd);
  return `${tokens(u.inputTokens)} tokens in · ${tokens(u.outputTokens)} out · ${cost}`;
}

export function chatTargetText(target: ChatTarget, nameOf: NameOf): string {
  return "node" in target ? nameOf(target.node) : "All machines";
}

export function toolTargetText(target: ToolCallView["target"], nameOf: NameOf): string {
  if ("node" in target) return `on ${nameOf(target.node)}`;
  if ("hub" in target) return "in the hub";
  if (target.machines === null) return "on every online machine";
  return `on all ${target.machines} online machine${target.machines === 1 ? "" : "s"}`;
}

/** Who decided a tier-3 call and when (`at`, already formatted), or null before anyone did. */
export function decisionText(call: Pick<ToolCallView, "status" | "decidedBy">, at: string | null): string | null {
  if (call.status === "expired") return `Counted as denied: nobody decided${at ? ` by ${at}` : " in time"}`;
  if (!call.decidedBy) return null;
  return `${call.status === "denied" ? "Denied" : "Approved"} by ${call.decidedBy}${at ? ` at ${at}` : ""}`;
}

/**
 * A tool call's parameters as the person deciding reads them: exact values, JSON where they are not plain text, and
 * every character that could make them look like something else shown as `⟨U+XXXX⟩` (protocol/hidden-characters.ts).
 */
export function parameterText(value: unknown): { text: string; hidden: number } {
  return revealHidden(typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

/** How many hidden characters a tool call's input holds, in its names and values. */
export function hiddenInInput(input: Record<string, unknown>): number {
  return Object.entries(input).reduce((n, [name, value]) => n + revealHidden(name).hidden + parameterText(value).hidden, 0);
}
