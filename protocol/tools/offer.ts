import * as z from "zod";
import type { RiskTier } from "../action-risk.ts";
import { parseActionCall, type ActionCall } from "../directives.ts";
import { TOOL_CATALOG, TOOL_NAMES, type ToolName } from "./catalog.ts";
import type { HubToolHandler } from "./hub-tools.ts";
import { toolTier, type Tool } from "./tool.ts";

/**
 * Which tools a caller gets, decided in server code before the model sees anything: the caller's risk cap (by role
 * and key scope) and, for an autonomous run, the site's maximum tier. A tool above the cap is never offered, and a
 * call to it is refused as if it did not exist.
 */
export interface ToolCap {
  riskCap: RiskTier;
  /** An autonomous run's ceiling (the site's `maxTier`); the lower of the two applies. */
  maxTier?: RiskTier;
}

function effectiveCap(cap: ToolCap): RiskTier {
  return cap.maxTier === undefined ? cap.riskCap : (Math.min(cap.riskCap, cap.maxTier) as RiskTier);
}

function isToolName(name: string): name is ToolName {
  return Object.hasOwn(TOOL_CATALOG, name);
}

/** The tools to offer a model under this cap, in catalog order. */
export function toolsToOffer(cap: ToolCap): Tool[] {
  const limit = effectiveCap(cap);
  return TOOL_NAMES.map((name) => TOOL_CATALOG[name]).filter((tool) => toolTier(tool) <= limit);
}

export type ToolLookup = { ok: true; tool: Tool } | { ok: false; code: "unknown_tool" | "not_offered"; message: string };

/**
 * The tool a model asked for, if it exists and was offered under this cap. The refusal is written for the model:
 * a tool above the cap is reported as not available, without saying what it would have done.
 */
export function findTool(name: string, cap: ToolCap): ToolLookup {
  if (!isToolName(name)) return { ok: false, code: "unknown_tool", message: `there is no tool named "${name.slice(0, 64)}"` };
  const tool = TOOL_CATALOG[name];
  const limit = effectiveCap(cap);
  if (toolTier(tool) > limit) {
    return { ok: false, code: "not_offered", message: `the tool "${name}" is not available in this conversation (it needs risk tier ${toolTier(tool)}; this one allows up to ${limit})` };
  }
  return { ok: true, tool };
}

export type ToolRun = { on: "agent"; call: ActionCall } | { on: "hub"; handler: HubToolHandler; input: Record<string, unknown> };

export type PreparedToolCall =
  | { ok: true; tool: Tool; tier: RiskTier; run: ToolRun }
  | { ok: false; code: "unknown_tool" | "not_offered" | "invalid_input"; message: string };

/** Zod's issues as one line; the action's `params` level is left out, since the model never saw it. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path[0] === "params" ? issue.path.slice(1) : issue.path;
      return `${path.join(".") || "input"}: ${issue.message}`;
    })
    .join("; ");
}

/**
 * A model's tool call made ready to run: the tool looked up under the cap, its input parsed, and for an agent tool
 * the directive (action and params) validated by the action's own schema. Every refusal is a sentence the model
 * can act on; nothing here runs anything.
 */
export function prepareToolCall(name: string, input: unknown, cap: ToolCap): PreparedToolCall {
  const found = findTool(name, cap);
  if (!found.ok) return found;
  const { tool } = found;
  const parsed = tool.input.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, code: "invalid_input", message: `invalid input for ${tool.name}: ${describeIssues(parsed.error)}` };
  const value = parsed.data as Record<string, unknown>;
  if (tool.runs.on === "hub") return { ok: true, tool, tier: toolTier(tool), run: { on: "hub", handler: tool.runs.handler, input: value } };
  const call = parseActionCall({ action: tool.runs.action, params: tool.runs.params(value) });
  if (!call.success) return { ok: false, code: "invalid_input", message: `invalid input for ${tool.name}: ${describeIssues(call.error)}` };
  return { ok: true, tool, tier: toolTier(tool), run: { on: "agent", call: call.data } };
}
