/**
 * The chat's constants without any schema library, so the dashboard's chat code can use them without loading zod
 * (its pages load on demand within a script budget). protocol/chat.ts and protocol/llm.ts re-export them.
 */

/** Model calls per user message before the answer pauses with a Continue action (a site setting). */
export const DEFAULT_CHAT_STEP_LIMIT = 15;
export const MAX_CHAT_STEP_LIMIT = 100;

/** A user message, at most. */
export const MAX_CHAT_MESSAGE_CHARS = 32_000;

/** The text frame a client may send on the socket to keep proxies from closing it (answered "pong"). */
export const CHAT_PING = "ping";

export const LLM_PROVIDERS = ["anthropic", "openai", "openai-compatible"] as const;
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];

/** Models offered in the model picker for each provider; a key's own model is always offered too. */
export const SUGGESTED_MODELS: Readonly<Record<LlmProviderName, readonly string[]>> = {
  anthropic: ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-fable-5-1"],
  openai: ["gpt-5.4", "gpt-5.4-mini", "gpt-5.2", "gpt-5", "gpt-4.1"],
  "openai-compatible": [],
};
