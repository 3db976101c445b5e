import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import type { LlmProvider } from "../../../protocol/llm.ts";
import { ModelCallAborted, NO_REDIRECTS, parseToolInput, type ModelClient, type ModelMessage, type ModelReply, type ModelRequest } from "./model-client.ts";

/**
 * OpenAI Chat Completions, streamed, and every server that speaks it (Ollama, vLLM, LM Studio) by base URL: text
 * arrives as content deltas, tool calls as deltas keyed by `index` (id and name first, then argument fragments),
 * usage in a last chunk when `stream_options.include_usage` is set.
 */
export class OpenAiModel implements ModelClient {
  private readonly client: OpenAI;

  constructor(
    readonly provider: Extract<LlmProvider, "openai" | "openai-compatible">,
    apiKey: string,
    baseUrl: string | null,
  ) {
    this.client = new OpenAI({ apiKey, baseURL: baseUrl ?? undefined, maxRetries: 0, timeout: 10 * 60_000, fetchOptions: NO_REDIRECTS });
  }

  async complete(request: ModelRequest, onText: (delta: string) => void, signal: AbortSignal): Promise<ModelReply> {
    const tools: ChatCompletionTool[] = request.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.inputSchema },
    }));
    const stream = await this.client.chat.completions.create(
      {
        model: request.model,
        messages: [{ role: "system", content: request.system }, ...toOpenAiMessages(request.messages)],
        ...(tools.length ? { tools } : {}),
        // `max_completion_tokens` is the current name; compatible servers still read `max_tokens`.
        ...(this.provider === "openai" ? { max_completion_tokens: request.maxTokens } : { max_tokens: request.maxTokens }),
        stream: true,
        stream_options: { include_usage: true },
      },
      { signal },
    );
    let text = "";
    const calls = new Map<number, { id: string; name: string; json: string }>();
    let inputTokens = 0;
    let outputTokens = 0;
    let stopReason = "";
    for await (const chunk of stream) {
      if (chunk.usage) {
        inputTokens = chunk.usage.prompt_tokens;
        outputTokens = chunk.usage.completion_tokens;
      }
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.delta.content) {
        text += choice.delta.content;
        onText(choice.delta.content);
      }
      for (const d of choice.delta.tool_calls ?? []) {
        const call = calls.get(d.index) ?? { id: "", name: "", json: "" };
        if (d.id) call.id = d.id;
        if (d.function?.name) call.name += d.function.name;
        if (d.function?.arguments) call.json += d.function.arguments;
        calls.set(d.index, call);
      }
      if (choice.finish_reason) stopReason = choice.finish_reason;
    }
    if (signal.aborted) throw new ModelCallAborted();
    const toolCalls = [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({ id: c.id || `call_${index}`, name: c.name, input: parseToolInput(c.json), rawInput: c.json }));
    return { text, toolCalls, inputTokens, outputTokens, stopReason };
  }
}

function toOpenAiMessages(messages: ModelMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  for (const m of messages) {
    if (m.role === "user") out.push({ role: "user", content: m.text });
    else if (m.role === "tool_results") for (const r of m.results) out.push({ role: "tool", tool_call_id: r.id, content: r.content });
    else {
      out.push({
        role: "assistant",
        content: m.text || null,
        ...(m.toolCalls.length
          ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: JSON.stringify(c.input ?? {}) } })) }
          : {}),
      });
    }
  }
  return out;
}
