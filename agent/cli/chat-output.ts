import type { ChatEvent, ToolCallView, Usage } from "../../protocol/chat.ts";
import { revealControls, revealHidden } from "../../protocol/hidden-characters.ts";
import type { CliContext } from "./cli-context.ts";

/** Lines of a tool's output shown under it in the terminal; the rest is in the conversation. */
const OUTPUT_LINES = 4;

export function targetText(target: ToolCallView["target"]): string {
  if ("node" in target) return `machine ${target.node}`;
  if ("all" in target) return target.machines === null ? "every online machine" : `${target.machines} online machine(s)`;
  return "the hub";
}

export function costText(usage: Usage): string {
  const tokens = `${usage.inputTokens} tokens in, ${usage.outputTokens} out`;
  return usage.costMicroUsd === null ? `${tokens}, cost unknown` : `${tokens}, $${(usage.costMicroUsd / 1_000_000).toFixed(4)}`;
}

/** The JSON lines of `--json`: one object per line with a `type` of text, tool_call, tool_result, confirmation, usage, done or error. */
export type ChatJsonLine =
  | { type: "text"; messageId: string; delta: string }
  | { type: "tool_call"; toolCall: ToolCallView }
  | { type: "tool_result"; toolCall: ToolCallView }
  | { type: "confirmation"; toolCall: ToolCallView; decision: "approved" | "denied" }
  | { type: "usage"; messageId: string; model: string; usage: Usage; total: Usage }
  | { type: "done"; conversationId: string; status: string; canContinue: boolean; note: string | null }
  | { type: "error"; code: string; message: string };

/**
 * How an answer is printed: in a terminal the answer's text goes to stdout as it streams and everything around it
 * (tool calls, confirmations, retries, notes, usage) to stderr, so `cortex chat ... > answer.md` keeps only the
 * answer; with `--json` every event is one JSON line on stdout.
 */
export class ChatPrinter {
  private atLineStart = true;

  constructor(
    private readonly cli: CliContext,
    readonly asJson: boolean,
  ) {}

  line(value: ChatJsonLine): void {
    this.cli.out(`${JSON.stringify(value)}\n`);
  }

  /** Prints a live event; returns nothing, decisions are the session's. */
  event(event: ChatEvent): void {
    if (this.asJson) return this.jsonEvent(event);
    switch (event.type) {
      case "text":
        // A model quoting a log can write escape sequences; on a terminal they would act, so they are shown instead.
        this.cli.out(revealControls(event.delta));
        this.atLineStart = event.delta.endsWith("\n");
        return;
      case "step_reset":
        this.note(`(the provider broke off; the last part is being written again)`);
        return;
      case "tool_call":
        if (event.toolCall.status === "running") this.note(`▸ ${event.toolCall.name} on ${targetText(event.toolCall.target)} ${inputText(event.toolCall)}`);
        return;
      case "tool_result":
        return this.result(event.toolCall);
      case "retry":
        this.note(`(the provider is busy: ${event.reason}; trying again in ${(event.waitMs / 1000).toFixed(1)}s)`);
        return;
      case "error":
        this.note(`error: ${event.message}`);
        return;
      default:
        return;
    }
  }

  private jsonEvent(event: ChatEvent): void {
    switch (event.type) {
      case "text":
        return this.line({ type: "text", messageId: event.messageId, delta: event.delta });
      case "tool_call":
        return this.line({ type: "tool_call", toolCall: event.toolCall });
      case "tool_result":
        return this.line({ type: "tool_result", toolCall: event.toolCall });
      case "usage":
        return this.line({ type: "usage", messageId: event.messageId, model: event.model, usage: event.usage, total: event.total });
      case "error":
        return this.line({ type: "error", code: event.code, message: event.message });
      default:
        return;
    }
  }

  private result(call: ToolCallView): void {
    const where = targetText(call.target);
    if (call.status !== "done") {
      this.note(`✗ ${call.name} on ${where}: ${call.status}${call.error ? ` (${call.error})` : ""}`);
      return;
    }
    this.note(`✓ ${call.name} on ${where}`);
    for (const r of call.results) {
      const machines = r.nodeIds.length > 3 ? `${r.nodeIds.slice(0, 3).join(", ")} and ${r.nodeIds.length - 3} more` : r.nodeIds.join(", ");
      const lines = r.output.split("\n").filter((l) => l.trim() !== "");
      const head = call.results.length > 1 || r.nodeIds.length > 1 ? `    ${machines}: ${r.status}${r.exitCode ? ` (exit ${r.exitCode})` : ""}` : null;
      if (head) this.cli.err(`${head}\n`);
      for (const l of lines.slice(0, OUTPUT_LINES)) this.cli.err(`    │ ${revealControls(l.slice(0, 200))}\n`);
      if (lines.length > OUTPUT_LINES) this.cli.err(`    │ … ${lines.length - OUTPUT_LINES} more line(s)\n`);
    }
  }

  /** A line on stderr, starting on a line of its own even in the middle of streamed text. */
  note(text: string): void {
    if (!this.atLineStart) {
      this.cli.out("\n");
      this.atLineStart = true;
    }
    this.cli.err(`${revealControls(text)}\n`);
  }

  /** What a confirmation asks, for the prompt: the exact input, with every character that could disguise it shown. */
  question(call: ToolCallView): string {
    const input = revealHidden(JSON.stringify(call.input));
    const warning = input.hidden ? `\n  ! ${input.hidden} hidden or direction-changing character(s), shown as ⟨U+…⟩: read it twice` : "";
    return `The assistant wants to run ${call.name} (risk tier ${call.tier}) on ${targetText(call.target)} with:\n  ${input.text}${warning}\nApprove? [y/N] `;
  }

  finish(): void {
    if (!this.asJson && !this.atLineStart) {
      this.cli.out("\n");
      this.atLineStart = true;
    }
  }
}

function inputText(call: ToolCallView): string {
  const text = JSON.stringify(call.input);
  return text === "{}" ? "" : text.length > 160 ? `${text.slice(0, 157)}…` : text;
}
