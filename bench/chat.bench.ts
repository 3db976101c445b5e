import Anthropic from "@anthropic-ai/sdk";
import { ConversationSummary, SendMessageResponse, type ChatEvent } from "../protocol/chat.ts";
import { ChatStream } from "../test/support/chat-stream.ts";
import { Fleet } from "../test/support/fleet.ts";
import { MockLlm } from "../test/support/mock-llm.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";

/**
 * What the hub adds to a chat, against the mock LLM server on loopback (so the provider costs nothing measurable):
 * time to the first token through the hub (HTTP message → Worker → Conversation object → provider SDK → mock, and
 * the token back over server-sent events) next to the same SDK calling the mock directly; and what one tier-1 tool
 * call costs beyond its directive's own round trip (the model's tool call parsed, checked, recorded, sent as a
 * directive to a real agent, its output redacted, cut and recorded, and the next model call started).
 */
const RUNS = Number(process.env.BENCH_CHAT_RUNS ?? 30);
const WARMUP = 3;
const BENCH = "chat";
const MODEL = "claude-sonnet-5-5";

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const mock = await MockLlm.start();
  try {
    await fleet.connectedNode("bench-agent", "root");
    const key = `bench-${process.pid}`;
    const saved = await fleet.api.raw("PUT", fleet.api.sitePath("/llm-key"), {
      body: JSON.stringify({ provider: "anthropic", model: MODEL, key, baseUrl: mock.anthropicBaseUrl }),
      headers: { "Content-Type": "application/json" },
    });
    if (saved.status !== 200) throw new Error(`saving the site key: ${saved.status} ${saved.text}`);

    // The provider SDK straight to the mock: the floor for time to first token.
    const direct = new Anthropic({ apiKey: key, baseURL: mock.anthropicBaseUrl, maxRetries: 0 });
    const directSamples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      mock.script(key, { text: ["Hello", " there"] });
      const start = process.hrtime.bigint();
      const stream = await direct.messages.create({ model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }], stream: true });
      let first: number | null = null;
      for await (const event of stream) if (first === null && event.type === "content_block_delta") first = elapsedMs(start);
      if (i >= WARMUP) directSamples.push(first!);
    }

    const conv = await fleet.api.call("POST", "/conversations", ConversationSummary, { target: { node: "bench-agent" } });
    const events = await openStream(fleet, conv.id);
    const hubSamples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      mock.script(key, { text: ["Hello", " there"] });
      const seen = events.events.length;
      const start = process.hrtime.bigint();
      // The token may arrive before the POST's own answer: the clock stops at the token, whichever comes first.
      const sending = fleet.api.call("POST", `/conversations/${conv.id}/messages`, SendMessageResponse, { text: `hello ${i}` });
      await events.until((e) => e.type === "text" && events.events.indexOf(e) >= seen, "the first token", 30_000);
      const ms = elapsedMs(start);
      await sending;
      await events.done(30_000);
      if (i >= WARMUP) hubSamples.push(ms);
    }

    // A directive of the same action through the API: the round trip a chat tool call cannot avoid.
    const directiveSamples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const start = process.hrtime.bigint();
      const view = await fleet.api.runDirective("bench-agent", { action: "agent.health", params: {} });
      if (view.status !== "done") throw new Error(`agent.health came back ${view.status}: ${view.error}`);
      if (i >= WARMUP) directiveSamples.push(elapsedMs(start));
    }

    // From the end of the model's tool-calling answer to the next model request: the tool call as the hub runs it.
    const gapSamples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      mock.script(key, { toolCalls: [{ name: "get_agent_health", input: {} }] }, { text: "fine" });
      const before = mock.requests(key).length;
      await fleet.api.call("POST", `/conversations/${conv.id}/messages`, SendMessageResponse, { text: `check ${i}` });
      const done = await events.done(30_000);
      if (done.status !== "done") throw new Error(`the answer ended ${done.status}: ${done.note}`);
      const [toolAnswer, next] = mock.requests(key).slice(before);
      if (i >= WARMUP) gapSamples.push(next!.at - toolAnswer!.endedAt!);
    }
    await events.close();

    const sdkLabel = "Anthropic SDK → mock directly";
    const apiLabel = "the same directive via the API";
    return [
      { bench: BENCH, metric: `time to first token via the hub, p50 of ${RUNS}`, unit: "ms", value: percentile(hubSamples, 50), baseline: percentile(directSamples, 50), baselineLabel: sdkLabel },
      { bench: BENCH, metric: `time to first token via the hub, p95 of ${RUNS}`, unit: "ms", value: percentile(hubSamples, 95), baseline: percentile(directSamples, 95), baselineLabel: sdkLabel },
      { bench: BENCH, metric: `one tier-1 tool call (model answer → next model call), p50 of ${RUNS}`, unit: "ms", value: percentile(gapSamples, 50), baseline: percentile(directiveSamples, 50), baselineLabel: apiLabel },
      {
        bench: BENCH,
        metric: "of which beyond the directive's round trip, p50",
        unit: "ms",
        value: percentile(gapSamples, 50) - percentile(directiveSamples, 50),
        baseline: null,
        baselineLabel: "",
      },
    ];
  } finally {
    await mock.close();
    await fleet.close();
  }
}

async function openStream(fleet: Fleet, id: string): Promise<ChatStream> {
  const res = await fetch(`${fleet.hub.url}${fleet.api.sitePath(`/conversations/${id}/events`)}`, {
    headers: { Authorization: `Bearer ${fleet.hub.adminKey}`, Accept: "text/event-stream" },
  });
  if (res.status !== 200 || !res.body) throw new Error(`events: ${res.status}`);
  const stream = new ChatStream(res.body);
  await stream.until((e: ChatEvent) => e.type === "synced", "the replay");
  return stream;
}

await runIfMain(import.meta.url, run);
