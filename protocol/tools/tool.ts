import type { z } from "zod";
import type { RiskTier } from "../action-risk.ts";
import type { ActionName, ActionParamsInput } from "../directives.ts";
import { HUB_TOOL_INPUTS, type HubToolHandler } from "./hub-tools.ts";

/** Operating systems an agent-side tool works on; elsewhere the agent answers `unsupported`. */
export type Platform = "linux" | "windows";

/** A tool's input: always an object, as both providers require at the top of a tool schema. */
export type ToolInput = z.ZodObject;

/** A tool without a tier is tier 3: whatever nobody classified asks a person first. */
export const UNCLASSIFIED_TIER: RiskTier = 3;

/** Tools at this tier or above wait for a person's approval before they run. */
export const CONFIRMATION_TIER: RiskTier = 3;

interface ToolBase {
  name: string;
  /** Written for the model: what the tool tells or does, when to use it, what comes back. */
  description: string;
  input: ToolInput;
  tier?: RiskTier;
  /** A typical input, used by the reference docs and checked by the tests against the schema and the action. */
  example: Record<string, unknown>;
}

export interface AgentTool extends ToolBase {
  runs: {
    on: "agent";
    action: ActionName;
    platforms: readonly Platform[];
    /** The directive params for a parsed input; the action's own schema validates them next. */
    params(input: Record<string, unknown>): Record<string, unknown>;
  };
}

export interface HubTool extends ToolBase {
  runs: { on: "hub"; handler: HubToolHandler };
}

export type Tool = AgentTool | HubTool;

interface Definition<I extends ToolInput> {
  description: string;
  input: I;
  tier?: RiskTier;
  example: z.input<I>;
}

/**
 * An agent-side tool, typed so that the mapping from the tool's input to the action's params is checked by the
 * compiler; the result is erased to the catalog's common shape.
 */
export function agentTool<I extends ToolInput, A extends ActionName>(
  definition: Definition<I> & {
    action: A;
    platforms: readonly Platform[];
    params: (input: z.output<I>) => ActionParamsInput<A>;
  },
): Omit<AgentTool, "name"> {
  const { action, platforms, params, ...base } = definition;
  return {
    ...base,
    runs: { on: "agent", action, platforms, params: (input) => params(input as z.output<I>) as Record<string, unknown> },
  };
}

/** A tool the hub answers; its input is the handler's own schema. */
export function hubTool<H extends HubToolHandler>(
  handler: H,
  definition: Omit<Definition<(typeof HUB_TOOL_INPUTS)[H]>, "input">,
): Omit<HubTool, "name"> {
  return { ...definition, input: HUB_TOOL_INPUTS[handler], runs: { on: "hub", handler } };
}

export function toolTier(tool: Pick<Tool, "tier">): RiskTier {
  return tool.tier ?? UNCLASSIFIED_TIER;
}

export function needsConfirmation(tool: Pick<Tool, "tier">): boolean {
  return toolTier(tool) >= CONFIRMATION_TIER;
}
