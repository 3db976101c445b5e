import type { LlmKeyScope, LlmProvider } from "../../../protocol/llm.ts";
import { redactText } from "../../../protocol/redaction.ts";
import { ModelCallAborted } from "./model-client.ts";

/** What went wrong with a model call, in the terms the chat explains it in. */
export type ProviderErrorKind = "auth" | "rate_limit" | "overloaded" | "server" | "network" | "context" | "not_found" | "bad_request" | "aborted";

export interface ProviderFailure {
  kind: ProviderErrorKind;
  status: number | null;
  /** The provider's own message, redacted (some providers echo part of the key). */
  detail: string;
  /** From a Retry-After header, when the provider sent one. */
  retryAfterMs: number | null;
}

/** Kinds worth another attempt: the provider is busy or the network hiccuped; nothing about the request is wrong. */
const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set(["rate_limit", "overloaded", "server", "network"]);

export function isRetryable(f: ProviderFailure): boolean {
  return RETRYABLE.has(f.kind);
}

interface SdkErrorShape {
  status?: number;
  message?: string;
  headers?: Headers | Record<string, string>;
  error?: unknown;
  name?: string;
}

function header(headers: SdkErrorShape["headers"], name: string): string | null {
  if (!headers) return null;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name);
  return (headers as Record<string, string>)[name] ?? null;
}

function retryAfterMs(headers: SdkErrorShape["headers"]): number | null {
  const ms = header(headers, "retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = header(headers, "retry-after");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** The provider's explanation from an error body in either provider's shape, else the SDK's message. */
function providerMessage(e: SdkErrorShape): string {
  const body = e.error as { error?: { message?: unknown; type?: unknown; code?: unknown }; message?: unknown } | undefined;
  const inner = body?.error?.message ?? body?.message;
  return typeof inner === "string" && inner ? inner : (e.message ?? "unknown error");
}

function looksLikeContextOverflow(text: string): boolean {
  return /prompt is too long|context length|context window|maximum context|too many tokens|context_length_exceeded|reduce the length/i.test(text);
}

/** Turns whatever an SDK threw into a failure the loop can act on; `secret` is scrubbed from the provider's words. */
export function classify(error: unknown, secret: string): ProviderFailure {
  if (error instanceof ModelCallAborted || (error as SdkErrorShape)?.name === "APIUserAbortError") {
    return { kind: "aborted", status: null, detail: "stopped", retryAfterMs: null };
  }
  const e = (error ?? {}) as SdkErrorShape;
  const raw = providerMessage(e);
  const detail = redactText(secret ? raw.replaceAll(secret, "[key]") : raw).slice(0, 500);
  const status = typeof e.status === "number" ? e.status : null;
  const codeText = JSON.stringify(e.error ?? "");
  const after = retryAfterMs(e.headers);
  const f = (kind: ProviderErrorKind): ProviderFailure => ({ kind, status, detail, retryAfterMs: after });
  if (status === null) return f("network");
  if (status === 401 || status === 403) return f("auth");
  if (status === 429) return f("rate_limit");
  if (status === 529 || /overloaded/i.test(codeText)) return f("overloaded");
  if (status === 413 || ((status === 400 || status === 422) && looksLikeContextOverflow(`${raw} ${codeText}`))) return f("context");
  if (status === 404) return f("not_found");
  if (status >= 500) return f("server");
  return f("bad_request");
}

const PROVIDER_NAMES: Record<LlmProvider, string> = { anthropic: "Anthropic", openai: "OpenAI", "openai-compatible": "The model server" };

/** Where to fix a key, by where it came from. */
export function keyHelp(scope: LlmKeyScope): string {
  return scope === "personal"
    ? "Check your key in Account settings → AI key, or run `cortex llm set`."
    : "A site admin can replace the site's key in Site settings → AI key, or with `cortex llm set --site-key`.";
}

/** A failure said the way the chat shows it: what happened and what to do about it. */
export function explain(f: ProviderFailure, provider: LlmProvider, model: string, scope: LlmKeyScope, attempts: number): string {
  const who = PROVIDER_NAMES[provider];
  const code = f.status === null ? "" : ` (${f.status})`;
  const tried = attempts > 1 ? ` after ${attempts} attempts` : "";
  switch (f.kind) {
    case "auth":
      return `${who} refused the ${scope} key${code}: ${f.detail}. ${keyHelp(scope)}`;
    case "rate_limit":
      return `${who} is rate-limiting this key${code}${tried}. Wait a minute and send the message again, or raise the key's limits with the provider.`;
    case "overloaded":
      return `${who} is overloaded${code}${tried}. Try again in a few minutes.`;
    case "server":
      return `${who} had an internal error${code}${tried}: ${f.detail}. Try again later.`;
    case "network":
      return `Could not reach ${who}${tried}: ${f.detail}. Check the base URL and that the server is up.`;
    case "context":
      return `The conversation no longer fits in ${model}'s context window${code}. Start a new conversation, or pick a model with a larger context.`;
    case "not_found":
      return `${who} does not know the model "${model}"${code}: ${f.detail}. Choose another model for this conversation or the key.`;
    case "bad_request":
      return `${who} refused the request${code}: ${f.detail}`;
    case "aborted":
      return "Stopped.";
  }
}

export interface RetryBudget {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Total time spent waiting between attempts. */
  maxWaitMs: number;
  baseDelayMs: number;
}

export const DEFAULT_RETRY_BUDGET: RetryBudget = { maxAttempts: 5, maxWaitMs: 60_000, baseDelayMs: 1_000 };

/**
 * How long to wait before attempt `attempt + 1`, or null to give up: the provider's Retry-After when it gave one
 * (giving up if that alone exceeds what is left of the budget), else exponential backoff with jitter.
 */
export function nextDelay(f: ProviderFailure, attempt: number, waitedMs: number, budget: RetryBudget, random = Math.random): number | null {
  if (!isRetryable(f) || attempt >= budget.maxAttempts) return null;
  const left = budget.maxWaitMs - waitedMs;
  if (f.retryAfterMs !== null) return f.retryAfterMs <= left ? f.retryAfterMs : null;
  const backoff = budget.baseDelayMs * 2 ** (attempt - 1);
  const delay = Math.round(backoff / 2 + random() * (backoff / 2));
  return delay <= left ? delay : left > 0 ? left : null;
}
