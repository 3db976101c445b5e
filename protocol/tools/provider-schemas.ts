import * as z from "zod";
import type { Tool } from "./tool.ts";

/**
 * Provider tool definitions generated from the catalog's zod schemas, so the schema a model sees and the one its
 * input is parsed with are the same. Both providers take an object schema at the top (no anyOf, oneOf, allOf or
 * not there); only plain keywords are kept, which Anthropic, OpenAI and the OpenAI-compatible servers (Ollama,
 * vLLM, LM Studio) all understand: `$schema` is dropped, and the tests refuse any other keyword.
 */

export type JsonSchema = { [key: string]: unknown };

/** Keywords a generated tool schema may contain; anything else fails the catalog tests before a provider sees it. */
export const PROVIDER_SCHEMA_KEYWORDS = [
  "type",
  "properties",
  "required",
  "additionalProperties",
  "description",
  "enum",
  "default",
  "minimum",
  "maximum",
  "minLength",
  "maxLength",
  "pattern",
  "items",
  "minItems",
  "maxItems",
] as const;

export interface ObjectSchema extends JsonSchema {
  type: "object";
  properties: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
}

/** The tool's input as a JSON Schema object, as the model should fill it in (defaults make a field optional). */
export function toolInputSchema(tool: Pick<Tool, "input">): ObjectSchema {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(tool.input, { io: "input", unrepresentable: "throw" });
  return { ...schema, type: "object", properties: (schema.properties ?? {}) as Record<string, JsonSchema> } as ObjectSchema;
}

/** Anthropic Messages API: an entry of `tools`. */
export interface AnthropicToolDefinition {
  name: string;
  description: string;
  input_schema: ObjectSchema;
}

/** OpenAI Chat Completions (and compatible servers): an entry of `tools`. */
export interface OpenAiToolDefinition {
  type: "function";
  function: { name: string; description: string; parameters: ObjectSchema };
}

export function anthropicTools(tools: readonly Tool[]): AnthropicToolDefinition[] {
  return tools.map((tool) => ({ name: tool.name, description: tool.description, input_schema: toolInputSchema(tool) }));
}

export function openAiTools(tools: readonly Tool[]): OpenAiToolDefinition[] {
  return tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: toolInputSchema(tool) },
  }));
}
