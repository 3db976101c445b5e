import type { LlmProvider } from "../../../protocol/llm.ts";

/**
 * What the tool loop needs from a model, whoever provides it: one streamed call with tools. The transcript is kept
 * provider-neutral, so a conversation may change model (and provider) between messages.
 */

export interface ModelToolCall {
  /** The provider's id, echoed back with the result. */
  id: string;
  name: string;
  /** The parsed JSON input, or null when the model sent something that is not a JSON object. */
  input: Record<string, unknown> | null;
  /** The raw input when it did not parse, for the refusal message. */
  rawInput: string;
}

export type ModelMessage =
  | { role: "user"; text: string }
  | { role: "assistant"; text: string; toolCalls: ModelToolCall[] }
  | { role: "tool_results"; results: { id: string; content: string; isError: boolean }[] };

/** A tool as offered to the model. */
export interface ModelTool {
  name: string;
  description: string;
  /** JSON Schema of the input (an object schema). */
  inputSchema: Record<string, unknown>;
}

export interface ModelRequest {
  model: string;
  system: string;
  messages: ModelMessage[];
  tools: ModelTool[];
  maxTokens: number;
}

export interface ModelReply {
  text: string;
  toolCalls: ModelToolCall[];
  inputTokens: number;
  outputTokens: number;
  /** Why the model stopped: end_turn / stop, tool_use / tool_calls, max_tokens / length, ... */
  stopReason: string;
}

export interface ModelClient {
  readonly provider: LlmProvider;
  /** Streams one reply; `onText` gets each piece of text as it arrives. Rejects with the SDK's error. */
  complete(request: ModelRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ModelReply>;
}

/** Parses a tool call's accumulated JSON input; empty means no arguments. */
export function parseToolInput(raw: string): Record<string, unknown> | null {
  if (raw.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Thrown when the caller aborted the call (Stop): the SDKs end their streams quietly on abort. */
export class ModelCallAborted extends Error {
  constructor() {
    super("the model call was stopped");
  }
}

/**
 * Both SDKs' fetch options: a redirect is an error, not followed. A base URL is checked before every call
 * (`baseUrlRefusal`), and a redirect would take the call, and the key in its headers, wherever the server says.
 */
export const NO_REDIRECTS = { redirect: "manual" } as const;
