import type { ChatEvent, ChatMessage, ConversationSummary, ToolCallView, TurnView } from "../../../protocol/chat.ts";

/**
 * What one conversation looks like to a viewer, built from the events of its socket. Every attach starts with a
 * replay (snapshot, the stored messages, then `synced` with the text already streamed of the model call under way),
 * so a reload or a second tab rebuilds the same state from scratch: stored messages are keyed by id (a repeat
 * replaces, never duplicates) and the streamed text restarts from the replay's partial text, to which only the deltas
 * sent after it are added.
 */
export interface FeedState {
  conversation: ConversationSummary | null;
  turn: TurnView | null;
  messages: ChatMessage[];
  /** The model call under way and its text so far. */
  streaming: { messageId: string; text: string } | null;
  /** The provider was busy and the call will be tried again. */
  retry: { attempt: number; waitMs: number; reason: string; at: number } | null;
  /** The socket said something went wrong (not a provider error: those arrive as notes). */
  error: string | null;
  deleted: boolean;
}

export function emptyFeed(): FeedState {
  return { conversation: null, turn: null, messages: [], streaming: null, retry: null, error: null, deleted: false };
}

function withToolCall(messages: ChatMessage[], call: ToolCallView): ChatMessage[] {
  return messages.map((m) => {
    if (m.id !== call.messageId) return m;
    const known = m.toolCalls.some((t) => t.id === call.id);
    return { ...m, toolCalls: known ? m.toolCalls.map((t) => (t.id === call.id ? call : t)) : [...m.toolCalls, call] };
  });
}

/** The conversation's summary follows its latest answer's state, as the hub's list shows it. */
function withStatus(conversation: ConversationSummary | null, status: TurnView["status"]): ConversationSummary | null {
  return conversation && conversation.status !== status ? { ...conversation, status } : conversation;
}

/** The state after one event; `now` dates a retry notice. */
export function applyEvent(state: FeedState, event: ChatEvent, now: number): FeedState {
  switch (event.type) {
    case "snapshot":
      return { ...emptyFeed(), conversation: event.conversation, turn: event.turn };
    case "message": {
      const { message } = event;
      const at = state.messages.findIndex((m) => m.id === message.id);
      const messages = at >= 0 ? state.messages.map((m, i) => (i === at ? message : m)) : [...state.messages, message];
      const streaming = state.streaming?.messageId === message.id ? null : state.streaming;
      return { ...state, messages, streaming, retry: message.role === "user" ? state.retry : null };
    }
    case "synced":
      return { ...state, streaming: event.partial ? { ...event.partial } : null };
    case "step":
      return { ...state, streaming: { messageId: event.messageId, text: "" } };
    case "text": {
      // A delta of a stored message (possible only if events crossed) is already in its text.
      if (state.messages.some((m) => m.id === event.messageId)) return state;
      const text = state.streaming?.messageId === event.messageId ? state.streaming.text + event.delta : event.delta;
      return { ...state, streaming: { messageId: event.messageId, text }, retry: null };
    }
    case "step_reset":
      return state.streaming?.messageId === event.messageId ? { ...state, streaming: { messageId: event.messageId, text: "" } } : state;
    case "tool_call":
    case "tool_result":
    case "confirmation":
      return { ...state, messages: withToolCall(state.messages, event.toolCall) };
    case "usage":
      return state.conversation ? { ...state, conversation: { ...state.conversation, usage: event.total } } : state;
    case "retry":
      return { ...state, retry: { attempt: event.attempt, waitMs: event.waitMs, reason: event.reason, at: now } };
    case "turn":
      return { ...state, turn: event.turn, conversation: withStatus(state.conversation, event.turn.status) };
    case "done": {
      const turn = state.turn && state.turn.id === event.turnId ? { ...state.turn, status: event.status } : state.turn;
      return { ...state, turn, conversation: withStatus(state.conversation, event.status), streaming: null, retry: null };
    }
    case "error":
      return { ...state, error: event.message };
    case "conversation":
      return { ...state, conversation: event.conversation };
    case "deleted":
      return { ...state, deleted: true, streaming: null };
  }
}

/** An answer is under way (the model is writing, tools run, or a confirmation waits). */
export function answering(state: FeedState): boolean {
  return state.turn?.status === "running" || state.turn?.status === "waiting";
}
