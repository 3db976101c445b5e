import * as z from "zod";
import { LLM_PROVIDERS, SUGGESTED_MODELS } from "./chat-constants.ts";

/** LLM providers, keys and prices: what the chat needs to know about the model it talks to. */

export const LlmProvider = z.enum(LLM_PROVIDERS);
export type LlmProvider = z.infer<typeof LlmProvider>;

/** Where a key is kept: the caller's own account, or the site (the fallback, set by site admins). */
export const LlmKeyScope = z.enum(["personal", "site"]);
export type LlmKeyScope = z.infer<typeof LlmKeyScope>;

export const ModelName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9._:/@+-]+$/, "model names are letters, digits and . _ : / @ + -");

/** A provider's base URL: http or https only, no credentials in it (they would be stored and shown in the clear). */
export const BaseUrl = z
  .string()
  .trim()
  .max(2048)
  .url()
  .refine((u) => /^https?:\/\//i.test(u), "base URL must be http:// or https://")
  .refine((u) => {
    const url = new URL(u);
    return !url.username && !url.password;
  }, "base URL must not contain a user name or password: give the key with --key");

export const SetLlmKeyRequest = z
  .object({
    provider: LlmProvider,
    model: ModelName,
    /** The provider's API key. Servers that need none (a local Ollama) take any placeholder. */
    key: z.string().trim().min(1).max(1024).regex(/^[\x21-\x7e]+$/, "an API key is printable ASCII without spaces"),
    baseUrl: BaseUrl.optional(),
  })
  .refine((r) => r.provider !== "openai-compatible" || r.baseUrl !== undefined, {
    message: "an openai-compatible provider needs a base URL (for example http://127.0.0.1:11434/v1 for Ollama)",
    path: ["baseUrl"],
  });
export type SetLlmKeyRequest = z.infer<typeof SetLlmKeyRequest>;

/** What is ever shown of a saved key: never the key, only enough to recognise it. */
export const LlmKeyView = z.object({
  scope: LlmKeyScope,
  provider: LlmProvider,
  model: z.string(),
  baseUrl: z.string().nullable(),
  last4: z.string(),
  updatedAt: z.number(),
  updatedBy: z.string(),
});
export type LlmKeyView = z.infer<typeof LlmKeyView>;

export const LlmKeyResponse = z.object({ key: LlmKeyView.nullable() });
export type LlmKeyResponse = z.infer<typeof LlmKeyResponse>;

/** Price of a model in US dollars per million tokens. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/**
 * Published list prices of the models we know (standard rate, no caching or batch discount). A model missing here
 * has no cost shown rather than a wrong one: add it when its price is published. A dated snapshot
 * (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`) costs what its family name costs.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  "claude-fable-5-1": { inputPerMTok: 10, outputPerMTok: 50 },
  "claude-opus-5-5": { inputPerMTok: 4, outputPerMTok: 20 },
  "claude-opus-5": { inputPerMTok: 5, outputPerMTok: 25 },
  "claude-sonnet-5-5": { inputPerMTok: 2, outputPerMTok: 10 },
  "claude-sonnet-5": { inputPerMTok: 2, outputPerMTok: 10 },
  "claude-opus-4-5": { inputPerMTok: 5, outputPerMTok: 25 },
  "claude-opus-4-1": { inputPerMTok: 15, outputPerMTok: 75 },
  "claude-sonnet-4-5": { inputPerMTok: 3, outputPerMTok: 15 },
  "claude-haiku-4-5": { inputPerMTok: 1, outputPerMTok: 5 },
  "gpt-5": { inputPerMTok: 1.25, outputPerMTok: 10 },
  "gpt-5-mini": { inputPerMTok: 0.25, outputPerMTok: 2 },
  "gpt-5-nano": { inputPerMTok: 0.05, outputPerMTok: 0.4 },
  "gpt-4.1": { inputPerMTok: 2, outputPerMTok: 8 },
  "gpt-4.1-mini": { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  "gpt-4o": { inputPerMTok: 2.5, outputPerMTok: 10 },
  "gpt-4o-mini": { inputPerMTok: 0.15, outputPerMTok: 0.6 },
};

export { SUGGESTED_MODELS };

const SNAPSHOT_SUFFIX = /-(?:\d{8}|\d{4}-\d{2}-\d{2}|latest)$/;

export function priceOf(model: string): ModelPrice | null {
  return MODEL_PRICES[model] ?? MODEL_PRICES[model.replace(SNAPSHOT_SUFFIX, "")] ?? null;
}

/**
 * What a call cost in millionths of a dollar (integers add up exactly), or null when the model's price is unknown.
 * A self-hosted model (openai-compatible) has no price even when it borrows a known name.
 */
export function costMicroUsd(provider: LlmProvider, model: string, inputTokens: number, outputTokens: number): number | null {
  if (provider === "openai-compatible") return null;
  const price = priceOf(model);
  if (!price) return null;
  return Math.round(inputTokens * price.inputPerMTok + outputTokens * price.outputPerMTok);
}

/** The last four characters of a key, all that is ever shown of it. */
export function lastFour(key: string): string {
  return key.slice(-4);
}

/** What the chat says when neither the caller nor the site has a key. */
export const NO_LLM_KEY_HELP =
  "No AI key is set up for you or for this site. Add your own in Account settings → AI key (or run `cortex llm set --provider anthropic --model claude-sonnet-5-5`), or ask a site admin to add a site key (Site settings → AI key, or `cortex llm set --site-key ...`).";
