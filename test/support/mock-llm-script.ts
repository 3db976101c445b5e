/**
 * What a test tells the mock LLM server to answer, and what the server recorded. Plain data without Node imports,
 * so workerd tests (which script the server over HTTP) and Node tests share one definition.
 */

export interface MockToolCall {
  /** The provider's id for the call; generated when absent. */
  id?: string;
  name: string;
  input: Record<string, unknown>;
}

/** One answer of the model: streamed text, tool calls, or an HTTP error. */
export type MockTurn =
  | {
      /**
       * The text, streamed in the given pieces (a string is split into words). `{{lastToolResult}}` is replaced by the
       * content of the last tool result in the request, so a test can check the model "answers from" a tool's output.
       */
      text?: string | string[];
      toolCalls?: MockToolCall[];
      usage?: { input: number; output: number };
      /** Pause between streamed pieces. */
      chunkDelayMs?: number;
      /** Keep the response open after the last piece until the client goes away or the test releases it. */
      hang?: boolean;
      /** Anthropic's stop_reason / OpenAI's finish_reason; derived from the content when absent. */
      stopReason?: string;
    }
  | {
      error: {
        status: number;
        /** Anthropic error type or OpenAI error code (`rate_limit_error`, `overloaded_error`, `context_length_exceeded`, ...). */
        type?: string;
        message?: string;
        retryAfterSeconds?: number;
        /** Sent as the Location header: a redirect, when the status is 3xx. */
        location?: string;
      };
    };

export interface RecordedRequest {
  path: "/v1/messages" | "/v1/chat/completions";
  at: number;
  /** The request body as the SDK sent it (model, messages, tools, system, ...). */
  body: Record<string, unknown>;
  /** Header names and values, except the ones that carry the key. */
  headers: Record<string, string>;
  /** The client went away before the response ended (Stop, an abort). */
  aborted: boolean;
  /** When the last byte of the answer was written; null while it streams, or when it was aborted. */
  endedAt: number | null;
}

/** The control API of the mock, for clients that are not in the mock's process. */
export const MOCK_CONTROL = {
  /** POST { key, turns }: appends answers for requests made with this API key. */
  script: "/__mock/script",
  /** GET ?key=: the requests made with this key so far. */
  requests: "/__mock/requests",
  /** POST { key }: ends every hanging response of this key. */
  release: "/__mock/release",
} as const;

declare module "vitest" {
  export interface ProvidedContext {
    /** Port of the mock LLM server on 127.0.0.1 (test/support/mock-llm-global-setup.ts), for tests inside workerd. */
    mockLlmPort: number;
  }
}
