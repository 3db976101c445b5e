import Anthropic from "@anthropic-ai/sdk";
import type { ContentBlockParam, MessageParam, RawMessageStreamEvent, Tool } from "@anthropic-ai/sdk/resources/messages/messages";
import { ModelCallAborted, NO_REDIRECTS, parseToolInput, type ModelClient, type ModelMessage, type ModelReply, type ModelRequest } from "./model-client.ts";

/**
 * Anthropic Messages API, streamed: text arrives as text_delta events, each tool_use block's input as
 * input_json_delta fragments keyed by the block's index (parallel tool calls are separate blocks).
 */
export class AnthropicModel implements ModelClient {
  readonly provider = "anthropic" as const;
  private readonly client: Anthropic;

  constructor(apiKey: string, baseUrl: string | null) {
    // Retries are ours (with a budget and a visible event), so the SDK makes exactly one attempt per call.
    this.client = new Anthropic({ apiKey, baseURL: baseUrl ?? undefined, maxRetries: 0, timeout: 10 * 60_000, fetchOptions: NO_REDIRECTS });
  }

  async complete(request: ModelRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ModelReply> {
    const stream = await this.client.messages.create(
      {
        model: request.model,
        max_tokens: request.maxTokens,
        system: request.system,
        messages: toAnthropicMessages(request.messages),
        ...(request.tools.length
          ? { tools: request.tools.map((t): Tool => ({ name: t.name, description: t.description, input_schema: { ...t.inputSchema, type: "object" } })) }
          : {}),
        stream: true,
      },
      { signal },
    );
    let text = "";
    const blocks = new Map<number, { id: string; name: string; json: string }>();
    let inputTokens = 0;
    let outputTokens = 0;
    let stopReason = "";
    for await (const event of stream as AsyncIterable<RawMessageStreamEvent>) {
      switch (event.type) {
        case "message_start":
          inputTokens = event.message.usage.input_tokens + (event.message.usage.cache_read_input_tokens ?? 0) + (event.message.usage.cache_creation_input_tokens ?? 0);
          outputTokens = event.message.usage.output_tokens;
          break;
        case "content_block_start":
          if (event.content_block.type === "tool_use") blocks.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: "" });
          break;
        case "content_block_delta":
          if (event.delta.type === "text_delta") {
            text += event.delta.text;
            onText(event.delta.text);
          } else if (event.delta.type === "input_json_delta") {
            const block = blocks.get(event.index);
            if (block) block.json += event.delta.partial_json;
          }
          break;
        case "message_delta":
          stopReason = event.delta.stop_reason ?? stopReason;
          outputTokens = event.usage.output_tokens;
          if (event.usage.input_tokens != null) inputTokens = Math.max(inputTokens, event.usage.input_tokens);
          break;
        default:
          break;
      }
    }
    if (signal.aborted) throw new ModelCallAborted();
    const toolCalls = [...blocks.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, b]) => ({ id: b.id, name: b.name, input: parseToolInput(b.json), rawInput: b.json }));
    return { text, toolCalls, inputTokens, outputTokens, stopReason };
  }
}

/** The neutral transcript in Anthropic's shape; consecutive user turns are merged, as the API wants alternation. */
function toAnthropicMessages(messages: ModelMessage[]): MessageParam[] {
  const out: MessageParam[] = [];
  const pushUser = (content: ContentBlockParam[]) => {
    const last = out[out.length - 1];
    if (last?.role === "user" && Array.isArray(last.content)) last.content.push(...content);
    else out.push({ role: "user", content });
  };
  for (const m of messages) {
    if (m.role === "user") pushUser([{ type: "text", text: m.text }]);
    else if (m.role === "tool_results") {
      pushUser(m.results.map((r) => ({ type: "tool_result" as const, tool_use_id: r.id, content: r.content, is_error: r.isError })));
    } else {
      const content: ContentBlockParam[] = [];
      if (m.text) content.push({ type: "text", text: m.text });
      for (const call of m.toolCalls) content.push({ type: "tool_use", id: call.id, name: call.name, input: call.input ?? {} });
      if (!content.length) content.push({ type: "text", text: "(no answer)" });
      out.push({ role: "assistant", content });
    }
  }
  return out;
}
