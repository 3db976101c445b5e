import type { ModelMessage } from "./model/model-client.ts";
import type { Transcript } from "./transcript.ts";

/** What a tool call that never ran tells the model, so every tool call the model made gets an answer. */
const NOT_RUN = "Not run: the answer ended before this tool call.";

/**
 * The stored transcript as the model sees it: user messages, assistant messages with their tool calls, and after
 * each of those the recorded outcome of every call. Notes (the hub speaking to the user) are left out.
 */
export function modelMessages(transcript: Transcript): ModelMessage[] {
  const out: ModelMessage[] = [];
  for (const { message, calls } of transcript.modelRows()) {
    if (message.role === "user") {
      out.push({ role: "user", text: message.text });
      continue;
    }
    out.push({
      role: "assistant",
      text: message.text,
      toolCalls: calls.map((c) => ({ id: c.providerCallId, name: c.name, input: c.input, rawInput: "" })),
    });
    if (calls.length) {
      out.push({
        role: "tool_results",
        results: calls.map((c) => ({ id: c.providerCallId, content: c.modelResult ?? NOT_RUN, isError: c.status !== "done" })),
      });
    }
  }
  return out;
}
