import { SELF } from "cloudflare:test";
import { inject } from "vitest";
import { ChatEvent, ConversationSummary, ConversationView, type ChatTarget } from "../../protocol/chat.ts";
import type { LlmProvider } from "../../protocol/llm.ts";
import { MOCK_CONTROL, type MockTurn, type RecordedRequest } from "../support/mock-llm-script.ts";
import { call, expectJson, type Caller } from "./accounts-support.ts";
import { BASE } from "./support.ts";

/** The mock LLM server started for this run (test/support/mock-llm-global-setup.ts), reached over loopback. */
export function mockBase(): string {
  return `http://127.0.0.1:${inject("mockLlmPort")}`;
}

/** A provider key of its own for each test, so scripts and recordings never mix. */
export function mockKey(label = "k"): string {
  return `mock-${label}-${crypto.randomUUID()}`;
}

export async function script(key: string, ...turns: MockTurn[]): Promise<void> {
  const res = await fetch(mockBase() + MOCK_CONTROL.script, { method: "POST", body: JSON.stringify({ key, turns }) });
  if (!res.ok) throw new Error(`scripting the mock failed: ${res.status}`);
}

export async function recorded(key: string): Promise<RecordedRequest[]> {
  const res = await fetch(`${mockBase()}${MOCK_CONTROL.requests}?key=${encodeURIComponent(key)}`);
  return ((await res.json()) as { requests: RecordedRequest[] }).requests;
}

export async function release(key: string): Promise<void> {
  await fetch(mockBase() + MOCK_CONTROL.release, { method: "POST", body: JSON.stringify({ key }) });
}

/** The body for `PUT .../llm-key` pointing the provider's real SDK at the mock. */
export function mockKeyBody(key: string, provider: LlmProvider = "anthropic", model = provider === "anthropic" ? "claude-sonnet-5-5" : "gpt-4o") {
  return { provider, model, key, baseUrl: provider === "anthropic" ? mockBase() : `${mockBase()}/v1` };
}

export async function setSiteKey(caller: Caller, site: string, key: string, provider: LlmProvider = "anthropic"): Promise<void> {
  const res = await call(caller, `/api/sites/${site}/llm-key`, { method: "PUT", body: mockKeyBody(key, provider) });
  if (res.status !== 200) throw new Error(`setting the site key: ${res.status} ${await res.text()}`);
}

export async function newConversation(caller: Caller, site: string, target: ChatTarget): Promise<ConversationSummary> {
  return expectJson(await call(caller, `/api/sites/${site}/conversations`, { body: { target } }), 201, ConversationSummary);
}

export async function view(caller: Caller, site: string, id: string): Promise<ConversationView> {
  return expectJson(await call(caller, `/api/sites/${site}/conversations/${id}`), 200, ConversationView);
}

/** Sends a message and expects it accepted. */
export async function ask(caller: Caller, site: string, id: string, text: string): Promise<void> {
  const res = await call(caller, `/api/sites/${site}/conversations/${id}/messages`, { body: { text } });
  if (res.status !== 202) throw new Error(`sending a message: ${res.status} ${await res.text()}`);
}

/**
 * A conversation's event stream (`GET .../events`, server-sent events), collected as it arrives. Waits look at
 * everything received so far, so an event that came before the wait still counts.
 */
export class ChatStream {
  readonly events: ChatEvent[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;

  private constructor(private readonly reader: ReadableStreamDefaultReader<string>) {
    void this.pump();
  }

  static async open(caller: Caller, site: string, id: string): Promise<ChatStream> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (caller.kind === "cookie") headers.Cookie = `cortex_session=${caller.cookie}`;
    if (caller.kind === "bearer") headers.Authorization = `Bearer ${caller.key}`;
    const res = await SELF.fetch(`${BASE}/api/sites/${site}/conversations/${id}/events`, { headers });
    if (res.status !== 200 || !res.body) throw new Error(`opening events: ${res.status} ${await res.text()}`);
    return new ChatStream(res.body.pipeThrough(new TextDecoderStream()).getReader());
  }

  private async pump(): Promise<void> {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (data) this.events.push(ChatEvent.parse(JSON.parse(data.slice(6))));
        }
        this.wake();
      }
    } catch {
      // Cancelled by close().
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first event (already received or still to come) that satisfies `pred`. */
  async until<T extends ChatEvent>(pred: (e: ChatEvent) => e is T, what: string, timeoutMs?: number): Promise<T>;
  async until(pred: (e: ChatEvent) => boolean, what: string, timeoutMs?: number): Promise<ChatEvent>;
  async until(pred: (e: ChatEvent) => boolean, what: string, timeoutMs = 10_000): Promise<ChatEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.ended) throw new Error(`the event stream ended before ${what}; got ${this.summary()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.summary()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The `done` event of the answer in progress (the next one not seen by an earlier call). */
  async done(timeoutMs = 10_000): Promise<Extract<ChatEvent, { type: "done" }>> {
    const seen = this.doneSeen;
    const event = await this.until((e): e is Extract<ChatEvent, { type: "done" }> => e.type === "done" && this.events.filter((x) => x.type === "done").indexOf(e) >= seen, "the answer's end", timeoutMs);
    this.doneSeen += 1;
    return event;
  }
  private doneSeen = 0;

  of<K extends ChatEvent["type"]>(type: K): Extract<ChatEvent, { type: K }>[] {
    return this.events.filter((e): e is Extract<ChatEvent, { type: K }> => e.type === type);
  }

  summary(): string {
    return JSON.stringify(this.events.map((e) => (e.type === "text" ? `text:${e.delta}` : e.type === "done" ? `done:${e.status}` : e.type))).slice(0, 1500);
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}
