import type { UsableLlmKey } from "../../shared/llm-keys.ts";
import { AnthropicModel } from "./anthropic-model.ts";
import type { ModelClient } from "./model-client.ts";
import { OpenAiModel } from "./openai-model.ts";

/** The client for a key's provider; the model name comes with each request, so a conversation can override it. */
export function modelClientFor(key: UsableLlmKey): ModelClient {
  return key.provider === "anthropic" ? new AnthropicModel(key.apiKey, key.baseUrl) : new OpenAiModel(key.provider, key.apiKey, key.baseUrl);
}
