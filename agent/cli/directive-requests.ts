import { DirectiveView } from "../../protocol/api.ts";
import { clip, summarizeCall } from "../../protocol/directive-summary.ts";
import { ACTION_PARAMS, type ActionName } from "../../protocol/directives.ts";
import { revealControls } from "../../protocol/hidden-characters.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { HubClient } from "./hub-client.ts";

/**
 * Checks params against the action's schema before anything is sent, so a typo is refused here with the field
 * named. The params go out as given: defaults are the hub's and the agent's to fill.
 */
export function checkedParams(action: ActionName, params: Record<string, unknown>): Record<string, unknown> {
  const parsed = ACTION_PARAMS[action]().safeParse(params);
  if (!parsed.success) throw new CliError(`invalid ${action}: ${issuesLine(parsed.error)}`);
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== undefined));
}

/** Runs one directive on one node and waits for its record. */
export function runDirective(client: HubClient, node: string, action: ActionName, params: Record<string, unknown>): Promise<DirectiveView> {
  const body = { action, params: checkedParams(action, params) };
  return client.request("POST", client.sitePath("nodes", node, "directives"), DirectiveView, { body });
}

/**
 * Why a directive did not succeed, in one line naming the node: `build-01: refused (tier_refused): ...`. The error
 * is the node's own text, so its controls are shown rather than acted on by the terminal.
 */
export function failureLine(view: DirectiveView, label = view.nodeId): string {
  const code = view.errorCode && view.errorCode !== view.status ? ` (${view.errorCode})` : "";
  const exit = view.exitCode !== null ? ` (exit ${view.exitCode})` : "";
  return revealControls(`${label}: ${view.status.replace("_", " ")}${code}${exit}${view.error ? `: ${view.error}` : ""}`);
}

/** The few words that identify what a directive did, for tables. */
export function directiveSubject(view: DirectiveView): string {
  return clip(summarizeCall(view.action, view.params), 48);
}
