import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockLlm } from "../support/mock-llm.ts";

/**
 * The mock LLM server against the SDKs' own stream accumulators: if the SDKs assemble its events into the message it
 * was scripted to send (text, parallel tool calls with their JSON input, usage), the mock speaks their protocol.
 */
let mock: MockLlm;

beforeAll(async () => {
  mock = await MockLlm.start();
});

afterAll(async () => {
  await mock.close();
});

const calls = [
  { name: "get_system_info", input: {} },
  { name: "get_logs", input: { unit: "nginx", lines: 20 } },
];

describe("the mock LLM server", () => {
  it("speaks Anthropic Messages streaming: text, parallel tool_use blocks from input_json_delta, usage", async () => {
    mock.script("a-key", { text: "Checking both.", toolCalls: calls, usage: { input: 42, output: 7 } });
    const client = new Anthropic({ apiKey: "a-key", baseURL: mock.anthropicBaseUrl, maxRetries: 0 });
    const message = await client.messages.stream({ model: "claude-sonnet-5-5", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    expect(message.content[0]).toMatchObject({ type: "text", text: "Checking both." });
    expect(message.content.slice(1).map((b) => (b.type === "tool_use" ? [b.name, b.input] : null))).toEqual(calls.map((c) => [c.name, c.input]));
    expect(message.stop_reason).toBe("tool_use");
    expect(message.usage).toMatchObject({ input_tokens: 42, output_tokens: 7 });
    expect(mock.requests("a-key")[0]!.body.messages).toEqual([{ role: "user", content: "hi" }]);
    expect(JSON.stringify(mock.requests("a-key")[0]!.headers)).not.toContain("a-key");
  });

  it("speaks OpenAI Chat Completions streaming: content, tool_call deltas by index, a usage chunk", async () => {
    mock.script("o-key", { text: "Checking both.", toolCalls: calls, usage: { input: 42, output: 7 } });
    const client = new OpenAI({ apiKey: "o-key", baseURL: mock.openaiBaseUrl, maxRetries: 0 });
    const completion = await client.chat.completions
      .stream({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }], stream_options: { include_usage: true } })
      .finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.message.content).toBe("Checking both.");
    expect(choice.message.tool_calls?.map((c) => (c.type === "function" ? [c.function.name, JSON.parse(c.function.arguments)] : null))).toEqual(calls.map((c) => [c.name, c.input]));
    expect(choice.finish_reason).toBe("tool_calls");
    expect(completion.usage).toMatchObject({ prompt_tokens: 42, completion_tokens: 7 });
  });

  it("answers scripted errors the way the providers do, with Retry-After", async () => {
    mock.script("e-key", { error: { status: 429, retryAfterSeconds: 3 } }, { error: { status: 529 } });
    const client = new Anthropic({ apiKey: "e-key", baseURL: mock.anthropicBaseUrl, maxRetries: 0 });
    const ask = () => client.messages.create({ model: "m", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    await expect(ask()).rejects.toMatchObject({ status: 429, headers: expect.anything() });
    await expect(ask()).rejects.toMatchObject({ status: 529 });
    await expect(ask()).rejects.toMatchObject({ status: 500 });
  });
});
