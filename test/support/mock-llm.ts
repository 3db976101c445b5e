import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { MOCK_CONTROL, type MockToolCall, type MockTurn, type RecordedRequest } from "./mock-llm-script.ts";

export type { MockToolCall, MockTurn, RecordedRequest } from "./mock-llm-script.ts";

type Provider = "anthropic" | "openai";
type SuccessTurn = Exclude<MockTurn, { error: unknown }>;

const MESSAGES_PATH = "/v1/messages";
const COMPLETIONS_PATH = "/v1/chat/completions";

/** Requests and scripted answers of one API key: every test uses its own key, so tests never share a script. */
interface KeyState {
  turns: MockTurn[];
  requests: RecordedRequest[];
  hanging: Set<() => void>;
}

/**
 * A local stand-in for the Anthropic Messages API and the OpenAI Chat Completions API, on 127.0.0.1. It streams
 * server-sent events the way the real services do (Anthropic: message_start, content blocks with text_delta and
 * input_json_delta, message_delta with usage; OpenAI: chunks with content and tool_call deltas by index, a usage
 * chunk, [DONE]), so the real SDKs can be pointed at it through their base URL. Answers are scripted per API key,
 * in order; every request is recorded, so a test can assert exactly what the model was shown.
 */
export class MockLlm {
  private readonly keys = new Map<string, KeyState>();
  private idCounter = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<MockLlm> {
    let mock: MockLlm | null = null;
    const server = createServer((req, res) => {
      void mock!.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { message: `mock failure: ${(error as Error).message}` } }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    mock = new MockLlm(server, typeof address === "object" && address ? address.port : 0);
    return mock;
  }

  /** The base URL for the Anthropic SDK (which appends /v1/messages). */
  get anthropicBaseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The base URL for the OpenAI SDK (which appends /chat/completions). */
  get openaiBaseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Appends answers for requests made with `key`. */
  script(key: string, ...turns: MockTurn[]): void {
    this.state(key).turns.push(...turns);
  }

  requests(key: string): RecordedRequest[] {
    return this.state(key).requests;
  }

  /** Scripted answers not yet asked for. */
  remaining(key: string): number {
    return this.state(key).turns.length;
  }

  /** Ends every hanging response of `key`. */
  release(key: string): void {
    const hanging = this.state(key).hanging;
    for (const end of [...hanging]) end();
    hanging.clear();
  }

  async close(): Promise<void> {
    for (const key of this.keys.keys()) this.release(key);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { turns: [], requests: [], hanging: new Set() }));
    return s;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://mock");
    const body = await readJson(req);
    if (url.pathname === MOCK_CONTROL.script && req.method === "POST") {
      this.script(String(body.key), ...((body.turns as MockTurn[] | undefined) ?? []));
      return json(res, 200, { ok: true });
    }
    if (url.pathname === MOCK_CONTROL.requests && req.method === "GET") {
      return json(res, 200, { requests: this.requests(url.searchParams.get("key") ?? "") });
    }
    if (url.pathname === MOCK_CONTROL.release && req.method === "POST") {
      this.release(String(body.key));
      return json(res, 200, { ok: true });
    }
    const provider: Provider | null = url.pathname === MESSAGES_PATH ? "anthropic" : url.pathname === COMPLETIONS_PATH ? "openai" : null;
    if (!provider || req.method !== "POST") return json(res, 404, { error: { message: `mock: no route ${req.method} ${url.pathname}` } });

    const key = keyOf(req, provider);
    if (!key) return json(res, 401, errorBody(provider, "authentication_error", "mock: no API key was sent"));
    const state = this.state(key);
    const record: RecordedRequest = { path: url.pathname as RecordedRequest["path"], at: Date.now(), body, headers: visibleHeaders(req), aborted: false, endedAt: null };
    state.requests.push(record);
    res.on("finish", () => {
      record.endedAt = Date.now();
    });
    res.on("close", () => {
      if (!res.writableFinished) record.aborted = true;
    });

    const turn = state.turns.shift();
    if (!turn) return json(res, 500, errorBody(provider, "api_error", `mock: nothing scripted for this request (key …${key.slice(-4)})`));
    if ("error" in turn) {
      const headers: Record<string, string> = {};
      if (turn.error.retryAfterSeconds !== undefined) headers["retry-after"] = String(turn.error.retryAfterSeconds);
      if (turn.error.location !== undefined) headers.location = turn.error.location;
      return json(res, turn.error.status, errorBody(provider, turn.error.type ?? defaultErrorType(turn.error.status), turn.error.message ?? `mock error ${turn.error.status}`), headers);
    }
    const events = provider === "anthropic" ? this.anthropicEvents(turn, body) : this.openaiEvents(turn, body);
    await this.stream(res, events, turn, state);
  }

  private async stream(res: ServerResponse, events: string[], turn: SuccessTurn, state: KeyState): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
    for (const [i, event] of events.entries()) {
      if (res.destroyed) return;
      // When hanging, the final events (stop, usage, [DONE]) are held back until the release.
      if (turn.hang && i === this.holdPoint(events)) {
        await new Promise<void>((resolve) => {
          const end = () => resolve();
          state.hanging.add(end);
          res.once("close", () => {
            state.hanging.delete(end);
            resolve();
          });
        });
        if (res.destroyed) return;
      }
      res.write(event);
      if (turn.chunkDelayMs && i < events.length - 1) await sleep(turn.chunkDelayMs);
    }
    res.end();
  }

  /** Index of the first event that ends the message: everything before it is the streamed content. */
  private holdPoint(events: string[]): number {
    const i = events.findIndex((e) => e.includes('"message_delta"') || e.includes('"finish_reason":"') || e.startsWith("data: [DONE]"));
    return i < 0 ? events.length - 1 : i;
  }

  private nextId(prefix: string): string {
    this.idCounter += 1;
    return `${prefix}${this.idCounter.toString().padStart(6, "0")}`;
  }

  private anthropicEvents(turn: SuccessTurn, body: Record<string, unknown>): string[] {
    const out: string[] = [];
    const ev = (data: Record<string, unknown>) => out.push(`event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`);
    const usage = turn.usage ?? { input: 10, output: 5 };
    ev({
      type: "message_start",
      message: {
        id: this.nextId("msg_mock"),
        type: "message",
        role: "assistant",
        content: [],
        model: String(body.model ?? "mock"),
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: usage.input, output_tokens: 1 },
      },
    });
    let index = 0;
    const pieces = textPieces(turn.text, lastToolResult(body, "anthropic"));
    if (pieces.length) {
      ev({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
      ev({ type: "ping" });
      for (const text of pieces) ev({ type: "content_block_delta", index, delta: { type: "text_delta", text } });
      ev({ type: "content_block_stop", index });
      index += 1;
    }
    for (const call of turn.toolCalls ?? []) {
      ev({ type: "content_block_start", index, content_block: { type: "tool_use", id: call.id ?? this.nextId("toolu_mock"), name: call.name, input: {} } });
      for (const partial of jsonPieces(call)) ev({ type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: partial } });
      ev({ type: "content_block_stop", index });
      index += 1;
    }
    const stop = turn.stopReason ?? (turn.toolCalls?.length ? "tool_use" : "end_turn");
    ev({ type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } });
    ev({ type: "message_stop" });
    return out;
  }

  private openaiEvents(turn: SuccessTurn, body: Record<string, unknown>): string[] {
    const out: string[] = [];
    const id = this.nextId("chatcmpl-mock");
    const model = String(body.model ?? "mock");
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      out.push(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1_700_000_000, model, choices, ...extra })}\n\n`);
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
    for (const text of textPieces(turn.text, lastToolResult(body, "openai"))) chunk([{ index: 0, delta: { content: text }, finish_reason: null }]);
    const calls = (turn.toolCalls ?? []).map((call) => ({ call, id: call.id ?? this.nextId("call_mock"), pieces: jsonPieces(call) }));
    // Tool calls open in order, then their arguments arrive interleaved by index, as parallel calls do.
    calls.forEach(({ call, id: callId }, index) =>
      chunk([{ index: 0, delta: { tool_calls: [{ index, id: callId, type: "function", function: { name: call.name, arguments: "" } }] }, finish_reason: null }]),
    );
    const longest = Math.max(0, ...calls.map((c) => c.pieces.length));
    for (let p = 0; p < longest; p++) {
      calls.forEach(({ pieces }, index) => {
        if (p < pieces.length) chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: pieces[p] } }] }, finish_reason: null }]);
      });
    }
    const finish = turn.stopReason ?? (calls.length ? "tool_calls" : "stop");
    chunk([{ index: 0, delta: {}, finish_reason: finish }]);
    const usage = turn.usage ?? { input: 10, output: 5 };
    const options = body.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage) chunk([], { usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output } });
    out.push("data: [DONE]\n\n");
    return out;
  }
}

/** Text of every tool result a recorded request showed the model, in either provider's format. */
export function toolResults(request: RecordedRequest): string[] {
  const messages = (request.body.messages as { role: string; content: unknown }[]) ?? [];
  return messages.flatMap((m) => {
    if (m.role === "tool") return [String(m.content)];
    if (m.role === "user" && Array.isArray(m.content)) return (m.content as { type: string; content?: unknown }[]).filter((b) => b.type === "tool_result").map((b) => String(b.content));
    return [];
  });
}

function keyOf(req: IncomingMessage, provider: Provider): string | null {
  if (provider === "anthropic") {
    const key = req.headers["x-api-key"];
    if (typeof key === "string" && key) return key;
  }
  const auth = req.headers.authorization;
  return typeof auth === "string" ? (/^Bearer\s+(.+)$/i.exec(auth)?.[1] ?? null) : null;
}

function visibleHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === "authorization" || name === "x-api-key" || value === undefined) continue;
    out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of req) text += String(chunk);
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { unparsable: text };
  }
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function defaultErrorType(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 429:
      return "rate_limit_error";
    case 529:
      return "overloaded_error";
    default:
      return "api_error";
  }
}

function errorBody(provider: Provider, type: string, message: string): unknown {
  if (provider === "anthropic") return { type: "error", error: { type, message } };
  return { error: { message, type: type.endsWith("_error") ? type : "invalid_request_error", code: type, param: null } };
}

/** The text of the last tool result the request carries, in either provider's format. */
function lastToolResult(body: Record<string, unknown>, provider: Provider): string {
  const messages = (body.messages as { role: string; content: unknown }[] | undefined) ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (provider === "openai" && m.role === "tool") return typeof m.content === "string" ? m.content : JSON.stringify(m.content);
    if (provider === "anthropic" && m.role === "user" && Array.isArray(m.content)) {
      const result = [...(m.content as { type: string; content?: unknown }[])].reverse().find((b) => b.type === "tool_result");
      if (result) return typeof result.content === "string" ? result.content : JSON.stringify(result.content);
    }
  }
  return "";
}

function textPieces(text: string | string[] | undefined, toolResult: string): string[] {
  if (text === undefined) return [];
  const pieces = Array.isArray(text) ? text : (text.match(/\S+\s*|\s+/g) ?? []);
  return pieces.map((p) => p.replaceAll("{{lastToolResult}}", toolResult)).filter((p) => p.length > 0);
}

/** A tool call's JSON input cut into three fragments, as providers stream it. */
function jsonPieces(call: MockToolCall): string[] {
  const full = JSON.stringify(call.input);
  const a = Math.floor(full.length / 3);
  const b = Math.floor((2 * full.length) / 3);
  return [full.slice(0, a), full.slice(a, b), full.slice(b)].filter((p) => p.length > 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
