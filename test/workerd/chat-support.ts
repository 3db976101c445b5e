import { SELF } from "cloudflare:test";
import { inject } from "vitest";
import { ConversationSummary, ConversationView, type ChatTarget } from "../../protocol/chat.ts";
import { ChatStream } from "../support/chat-stream.ts";
import type { LlmProvider } from "../../protocol/llm.ts";
import { MOCK_CONTROL, type MockTurn, type RecordedRequest } from "../support/mock-llm-script.ts";
import { call, expectJson, type Caller } from "./accounts-support.ts";
import { BASE } from "./support.ts";

/** The mock LLM server started for this run (test/support/mock-llm-global-setup.ts), reached over loopback. */
export { ChatStream };

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

/** A conversation's event stream (`GET .../events`, server-sent events) as this test's caller sees it. */
export async function openChatStream(caller: Caller, site: string, id: string): Promise<ChatStream> {
  const headers: Record<string, string> = { Accept: "text/event-stream" };
  if (caller.kind === "cookie") headers.Cookie = `__Host-cortex_session=${caller.cookie}`;
  if (caller.kind === "bearer") headers.Authorization = `Bearer ${caller.key}`;
  const res = await SELF.fetch(`${BASE}/api/sites/${site}/conversations/${id}/events`, { headers });
  if (res.status !== 200 || !res.body) throw new Error(`opening events: ${res.status} ${await res.text()}`);
  return new ChatStream(res.body);
}
