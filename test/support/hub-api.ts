import type { z } from "zod";
import { sseData, SseParser } from "../../agent/cli/sse.ts";
import {
  ActivityPage,
  DirectiveEvent,
  DirectiveListResponse,
  DirectiveView,
  NodeCredentials,
  NodeListResponse,
  NodeView,
  type RegisterNodeRequest,
} from "../../protocol/api.ts";

export interface RawResponse {
  status: number;
  text: string;
  json: unknown;
}

/** A directive event with the moment it arrived here, to tell streamed output from output delivered at the end. */
export type TimedEvent = DirectiveEvent & { receivedAt: number };

/** The hub's HTTP API as a test sees it: plain fetches to 127.0.0.1, answers parsed with the protocol schemas. */
export class HubApi {
  constructor(
    readonly url: string,
    readonly apiKey: string,
    readonly site = "default",
  ) {}

  sitePath(path: string): string {
    return `/api/sites/${this.site}${path}`;
  }

  /** Any request, answered as it came: for bad input, wrong keys and other cases the typed helpers refuse. */
  async raw(method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string> } = {}): Promise<RawResponse> {
    const res = await fetch(this.url + path, {
      method,
      headers: { Authorization: `Bearer ${this.apiKey}`, ...init.headers },
      body: init.body,
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON; the caller looks at the text.
    }
    return { status: res.status, text, json };
  }

  async call<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.output<S>> {
    const res = await this.raw(method, this.sitePath(path), {
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
    });
    if (res.status >= 400) throw new Error(`${method} ${path} answered ${res.status}: ${res.text}`);
    return schema.parse(res.json);
  }

  register(body: RegisterNodeRequest): Promise<NodeCredentials> {
    return this.call("POST", "/nodes", NodeCredentials, body);
  }

  async nodes(): Promise<NodeView[]> {
    return (await this.call("GET", "/nodes", NodeListResponse)).nodes;
  }

  node(id: string): Promise<NodeView> {
    return this.call("GET", `/nodes/${id}`, NodeView);
  }

  directive(id: string): Promise<DirectiveView> {
    return this.call("GET", `/directives/${id}`, DirectiveView);
  }

  directives(query: Record<string, string | number> = {}): Promise<DirectiveListResponse> {
    return this.call("GET", `/directives?${new URLSearchParams(stringValues(query))}`, DirectiveListResponse);
  }

  cancel(directiveId: string): Promise<DirectiveView> {
    return this.call("POST", `/directives/${directiveId}/cancel`, DirectiveView);
  }

  runDirective(nodeId: string, body: { action: string; params: Record<string, unknown>; timeoutMs?: number }): Promise<DirectiveView> {
    return this.call("POST", `/nodes/${nodeId}/directives`, DirectiveView, body);
  }

  activity(query: Record<string, string | number> = {}): Promise<ActivityPage> {
    return this.call("GET", `/activity?${new URLSearchParams(stringValues(query))}`, ActivityPage);
  }

  /** Runs a directive with server-sent events, yielding each event with its arrival time. */
  async *streamDirective(nodeId: string, body: { action: string; params: Record<string, unknown>; timeoutMs?: number }): AsyncGenerator<TimedEvent> {
    const res = await fetch(`${this.url}${this.sitePath(`/nodes/${nodeId}/directives`)}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
    if (!res.ok || !res.body) throw new Error(`streaming directive answered ${res.status}: ${await res.text()}`);
    yield* sseEvents(res.body);
  }
}

/** Parses a server-sent event stream into DirectiveEvents with the CLI's reader; comment lines (keep-alives) are skipped. */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<TimedEvent> {
  for await (const data of sseData(body)) if (data) yield directiveEvent(data);
}

/** The same, from the stream's text as it arrives (a decoded body of any kind), with the CLI's own parser. */
export async function* sseTextEvents(texts: AsyncIterable<string>): AsyncGenerator<TimedEvent> {
  const parser = new SseParser();
  for await (const value of texts) {
    for (const data of parser.push(value)) {
      if (data) yield directiveEvent(data);
    }
  }
}

function directiveEvent(data: string): TimedEvent {
  return { ...DirectiveEvent.parse(JSON.parse(data)), receivedAt: Date.now() };
}

function stringValues(query: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).map(([key, value]) => [key, String(value)]));
}
