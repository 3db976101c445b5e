import { describe, expect, it } from "vitest";
import type { ChatEvent, ChatMessage, ConversationSummary, ToolCallView, TurnView } from "../../protocol/chat.ts";
import { answering, applyEvent, emptyFeed, type FeedState } from "../../web/src/chat/feed-state.ts";

/**
 * The dashboard's view of a conversation, built from its socket's events. A reload, a second tab or a reconnect gets
 * a replay (snapshot, stored messages, the partial text of the call under way) followed by live events; whatever
 * the moment of attaching, the text must come out whole and once.
 */

const usage = { inputTokens: 0, outputTokens: 0, costMicroUsd: 0 };
const conversation: ConversationSummary = {
  id: "c-00000000-0000-0000-0000-000000000001",
  site: "default",
  ownerId: "u1",
  ownerLabel: "Ada",
  title: "t",
  target: { node: "web-1" },
  model: null,
  createdAt: 1,
  updatedAt: 1,
  status: "running",
  usage,
  auto: false,
  eventId: null,
};
const turn: TurnView = { id: "r-1", status: "running", stepsUsed: 0, stepLimit: 15, toolTier: 3, keySource: "personal", startedAt: 1, endedAt: null };

function message(id: string, text: string, toolCalls: ToolCallView[] = []): ChatMessage {
  return { id, turnId: "r-1", role: "assistant", text, createdAt: 1, author: null, noteKind: null, model: "m", provider: "anthropic", usage, toolCalls };
}

function toolCall(id: string, status: ToolCallView["status"]): ToolCallView {
  return {
    id,
    messageId: "m-2",
    name: "run_command",
    input: { command: "id" },
    tier: 3,
    runsOn: "agent",
    target: { node: "web-1" },
    status,
    directiveId: null,
    fanoutId: null,
    results: [],
    hubAnswer: null,
    error: null,
    expiresAt: null,
    decidedBy: null,
    decidedAt: null,
    startedAt: null,
    endedAt: null,
  };
}

function run(events: ChatEvent[], from: FeedState = emptyFeed()): FeedState {
  return events.reduce((s, e) => applyEvent(s, e, 0), from);
}

const user: ChatMessage = { ...message("m-1", "hello"), role: "user", author: "Ada", model: null, provider: null, usage: null };
const replayHead: ChatEvent[] = [
  { type: "snapshot", conversation, turn, messages: 1 },
  { type: "message", message: user },
];
const deltas = ["one ", "two ", "three ", "four"];

describe("a conversation's feed", () => {
  it("shows the same text whenever a viewer attaches, with nothing doubled or lost", () => {
    const whole = deltas.join("");
    for (let at = 0; at <= deltas.length; at++) {
      // Attaching after `at` deltas: the replay carries them as the partial text, the rest arrive live.
      const partial = { messageId: "m-2", text: deltas.slice(0, at).join("") };
      const state = run([...replayHead, { type: "synced", partial }, ...deltas.slice(at).map((delta): ChatEvent => ({ type: "text", messageId: "m-2", delta }))]);
      expect(state.streaming, `attached after ${at}`).toEqual({ messageId: "m-2", text: whole });
      const stored = run([{ type: "message", message: message("m-2", whole) }], state);
      expect(stored.streaming).toBeNull();
      expect(stored.messages.map((m) => m.text)).toEqual(["hello", whole]);
    }
  });

  it("replaces a message it already has instead of adding it twice, and starts afresh on a new snapshot", () => {
    const once = run([...replayHead, { type: "synced", partial: null }]);
    const twice = run([{ type: "message", message: user }], once);
    expect(twice.messages).toHaveLength(1);
    const again = run([...replayHead, { type: "synced", partial: null }], twice);
    expect(again.messages).toHaveLength(1);
  });

  it("voids the streamed text of a call that is made again (step_reset) and ignores deltas of stored messages", () => {
    const state = run([...replayHead, { type: "synced", partial: null }, { type: "step", turnId: "r-1", messageId: "m-2", model: "m", provider: "anthropic" }, { type: "text", messageId: "m-2", delta: "half" }]);
    const reset = run([{ type: "step_reset", messageId: "m-2", reason: "429" }, { type: "text", messageId: "m-2", delta: "whole" }], state);
    expect(reset.streaming?.text).toBe("whole");
    const stored = run([{ type: "message", message: message("m-2", "whole") }, { type: "text", messageId: "m-2", delta: "late" }], reset);
    expect(stored.streaming).toBeNull();
    expect(stored.messages.at(-1)?.text).toBe("whole");
  });

  it("updates a tool call in place through its states", () => {
    const withCall = run([...replayHead, { type: "synced", partial: null }, { type: "message", message: message("m-2", "", [toolCall("t-1", "proposed")]) }]);
    const waiting = run([{ type: "confirmation", toolCall: toolCall("t-1", "awaiting_confirmation") }], withCall);
    const done = run([{ type: "tool_call", toolCall: toolCall("t-1", "running") }, { type: "tool_result", toolCall: toolCall("t-1", "done") }], waiting);
    expect(waiting.messages[1]!.toolCalls.map((t) => t.status)).toEqual(["awaiting_confirmation"]);
    expect(done.messages[1]!.toolCalls.map((t) => t.status)).toEqual(["done"]);
  });

  it("tracks the answer's state, the provider's retries and the totals", () => {
    const state = run([...replayHead, { type: "synced", partial: null }, { type: "retry", attempt: 1, waitMs: 2000, reason: "429: slow down" }]);
    expect(answering(state)).toBe(true);
    expect(state.retry).toMatchObject({ attempt: 1, waitMs: 2000 });
    const total = { inputTokens: 10, outputTokens: 5, costMicroUsd: 80 };
    const ended = run(
      [
        { type: "usage", messageId: "m-2", model: "m", usage: total, total },
        { type: "done", turnId: "r-1", status: "step_limit", canContinue: true, note: "paused" },
      ],
      state,
    );
    expect(ended.retry).toBeNull();
    expect(ended.turn?.status).toBe("step_limit");
    expect(ended.conversation?.status).toBe("step_limit");
    expect(answering(ended)).toBe(false);
    expect(ended.conversation?.usage).toEqual(total);
    expect(run([{ type: "deleted" }], ended).deleted).toBe(true);
  });
});
