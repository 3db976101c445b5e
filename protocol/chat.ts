import * as z from "zod";
import { MAX_CHAT_MESSAGE_CHARS } from "./chat-constants.ts";
import { NodeId } from "./identifiers.ts";
import { LlmKeyScope, LlmProvider, ModelName } from "./llm.ts";

/**
 * The AI chat: conversations, their messages and tool calls, the HTTP bodies and the events a client receives on the
 * conversation's socket (or its server-sent event stream). docs/chat.md describes the flow.
 */

/** A tier-3 tool call nobody approves within this time counts as denied. */
export const CONFIRMATION_TIMEOUT_MS = 10 * 60_000;

export const ConversationId = z.string().regex(/^c-[0-9a-f-]{36}$/, "not a conversation id");
export const ToolCallId = z.string().regex(/^t-[0-9a-f-]{36}$/, "not a tool call id");

/** One machine, or every machine of the site that is online at the moment of each tool call. */
export const ChatTarget = z.union([z.object({ node: NodeId }).strict(), z.object({ all: z.literal(true) }).strict()]);
export type ChatTarget = z.infer<typeof ChatTarget>;

export const ConversationTitle = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

// ---- requests ----

export const CreateConversationRequest = z.object({
  target: ChatTarget,
  title: ConversationTitle.optional(),
  /** Overrides the key's model for this conversation. */
  model: ModelName.optional(),
});
export type CreateConversationRequest = z.infer<typeof CreateConversationRequest>;

export const UpdateConversationRequest = z
  .object({
    title: ConversationTitle.optional(),
    /** null goes back to the key's own model. */
    model: ModelName.nullable().optional(),
    target: ChatTarget.optional(),
  })
  .refine((r) => r.title !== undefined || r.model !== undefined || r.target !== undefined, "nothing to change");
export type UpdateConversationRequest = z.infer<typeof UpdateConversationRequest>;

export const SendMessageRequest = z.object({
  text: z.string().trim().min(1).max(MAX_CHAT_MESSAGE_CHARS),
});
export type SendMessageRequest = z.infer<typeof SendMessageRequest>;

export const DecideRequest = z.object({ approve: z.boolean() });
export type DecideRequest = z.infer<typeof DecideRequest>;

export const ConversationListQuery = z.object({
  /** Site admins see everyone's conversations; `mine=1` narrows to their own. */
  mine: z.enum(["0", "1"]).optional(),
  /** Conversations last updated before this time: the cursor of the next page. */
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type ConversationListQuery = z.output<typeof ConversationListQuery>;

// ---- views ----

export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  /** Millionths of a US dollar; null when a price is unknown (self-hosted or unlisted model). */
  costMicroUsd: z.number().int().nonnegative().nullable(),
});
export type Usage = z.infer<typeof Usage>;

export const TurnStatus = z.enum(["running", "waiting", "done", "stopped", "step_limit", "error"]);
export type TurnStatus = z.infer<typeof TurnStatus>;

export const ConversationSummary = z.object({
  id: ConversationId,
  site: z.string(),
  ownerId: z.string(),
  ownerLabel: z.string(),
  title: z.string(),
  target: ChatTarget,
  /** The conversation's own model, overriding the key's; null uses the key's. */
  model: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
  /** The state of the latest answer; null before the first message. */
  status: TurnStatus.nullable(),
  usage: Usage,
  /**
   * An autonomous investigation (no user wrote in it; the dashboard shows an "auto" badge), and the site event it
   * investigates (`GET /api/sites/:site/autonomy/events/:id`).
   */
  auto: z.boolean().default(false),
  eventId: z.string().nullable().default(null),
});
export type ConversationSummary = z.infer<typeof ConversationSummary>;

export const ConversationListResponse = z.object({
  conversations: z.array(ConversationSummary),
  nextBefore: z.number().nullable(),
});
export type ConversationListResponse = z.infer<typeof ConversationListResponse>;

export const ToolCallStatus = z.enum([
  /** Named by the model; not yet checked. */
  "proposed",
  /** Tier 3: waiting for the owner to approve or deny. */
  "awaiting_confirmation",
  "approved",
  "denied",
  /** Nobody decided in time: counts as denied. */
  "expired",
  /** Not run: unknown or unoffered tool, invalid input, above the caller's tier, AI tools off, no machine online. */
  "refused",
  "running",
  "done",
  "failed",
  "cancelled",
]);
export type ToolCallStatus = z.infer<typeof ToolCallStatus>;

/** How one machine (or a group of machines that answered the same) fared in a tool call. */
export const MachineResult = z.object({
  nodeIds: z.array(z.string()),
  status: z.string(),
  exitCode: z.number().int().nullable(),
  /** Redacted and cut to a size limit; `truncated` says when it was cut. */
  output: z.string(),
  truncated: z.boolean(),
  error: z.string().nullable(),
});
export type MachineResult = z.infer<typeof MachineResult>;

export const ToolCallView = z.object({
  id: ToolCallId,
  /** The assistant message that asked for it. */
  messageId: z.string(),
  name: z.string(),
  /** The exact parameters the model gave (redacted for display). */
  input: z.record(z.string(), z.unknown()),
  /** Risk tier: 1 read-only, 2 bounded management, 3 asks first. */
  tier: z.number().int().min(1).max(3),
  runsOn: z.enum(["agent", "hub"]),
  /** The machine, or `{ all: true, machines }` with how many machines were online when it was shown or run. */
  target: z.union([z.object({ node: z.string() }), z.object({ all: z.literal(true), machines: z.number().int().nullable() }), z.object({ hub: z.literal(true) })]),
  status: ToolCallStatus,
  directiveId: z.string().nullable(),
  fanoutId: z.string().nullable(),
  /** Per machine (identical results grouped), redacted and cut. */
  results: z.array(MachineResult),
  /** A tool the hub runs itself, once done: its answer as the model got it (redacted and cut the same way). */
  hubAnswer: z.string().nullable(),
  /** Why it was refused, denied or failed. */
  error: z.string().nullable(),
  /** For a confirmation: until when it may be decided. */
  expiresAt: z.number().nullable(),
  decidedBy: z.string().nullable(),
  decidedAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
});
export type ToolCallView = z.infer<typeof ToolCallView>;

export const MessageRole = z.enum(["user", "assistant", "note"]);
export type MessageRole = z.infer<typeof MessageRole>;

export const NoteKind = z.enum(["step_limit", "stopped", "error", "info"]);
export type NoteKind = z.infer<typeof NoteKind>;

/**
 * One entry of the transcript. An assistant message is one model call: its text and the tool calls it asked for.
 * A note is the hub speaking (step limit reached, stopped, a provider error); notes are never shown to the model.
 */
export const ChatMessage = z.object({
  id: z.string(),
  turnId: z.string(),
  role: MessageRole,
  text: z.string(),
  createdAt: z.number(),
  /** Who wrote a user message. */
  author: z.string().nullable(),
  noteKind: NoteKind.nullable(),
  model: z.string().nullable(),
  provider: LlmProvider.nullable(),
  usage: Usage.nullable(),
  toolCalls: z.array(ToolCallView),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

export const TurnView = z.object({
  id: z.string(),
  status: TurnStatus,
  stepsUsed: z.number().int(),
  stepLimit: z.number().int(),
  /** The highest tool risk tier this answer may use, from the asker's role. */
  toolTier: z.number().int().min(1).max(3),
  /** Where the key came from. */
  keySource: LlmKeyScope.nullable(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
});
export type TurnView = z.infer<typeof TurnView>;

export const ConversationView = z.object({
  conversation: ConversationSummary,
  messages: z.array(ChatMessage),
  /** The latest answer, running or ended. */
  turn: TurnView.nullable(),
});
export type ConversationView = z.infer<typeof ConversationView>;

/** Which key and model a new message would use, for the chat page's header and model picker. */
export const ChatSetupResponse = z.object({
  key: z.object({ scope: LlmKeyScope, provider: LlmProvider, model: z.string(), baseUrl: z.string().nullable() }).nullable(),
  /** When there is no key: what to do about it. */
  missingKeyHelp: z.string().nullable(),
  models: z.array(z.string()),
  stepLimit: z.number().int(),
  /** The highest tool risk tier the caller's answers may use. */
  toolTier: z.number().int().min(1).max(3),
});
export type ChatSetupResponse = z.infer<typeof ChatSetupResponse>;

export const SendMessageResponse = z.object({ turnId: z.string(), messageId: z.string() });
export type SendMessageResponse = z.infer<typeof SendMessageResponse>;

// ---- events: the conversation's socket and its server-sent event stream carry the same objects ----

export const ChatEvent = z.discriminatedUnion("type", [
  /** First on every attach: the conversation and its latest answer; the transcript follows as `message` events. */
  z.object({ type: z.literal("snapshot"), conversation: ConversationSummary, turn: TurnView.nullable(), messages: z.number().int() }),
  /** A stored message: the transcript on attach, then every new one (user message, finished model call, note). */
  z.object({ type: z.literal("message"), message: ChatMessage }),
  /** The replay after attaching is complete; `partial` is the text already streamed of the model call under way. */
  z.object({ type: z.literal("synced"), partial: z.object({ messageId: z.string(), text: z.string() }).nullable() }),
  /** A model call started: its text arrives as `text` deltas under this message id. */
  z.object({ type: z.literal("step"), turnId: z.string(), messageId: z.string(), model: z.string(), provider: LlmProvider }),
  z.object({ type: z.literal("text"), messageId: z.string(), delta: z.string() }),
  /** The text streamed so far under this id is void: the call is being made again (a retry, or after a restart). */
  z.object({ type: z.literal("step_reset"), messageId: z.string(), reason: z.string() }),
  /** A tool call appeared or changed state (proposed, running, refused, approved, ...). */
  z.object({ type: z.literal("tool_call"), toolCall: ToolCallView }),
  /** A tool call ended with an outcome (done, failed, denied, expired, refused, cancelled). */
  z.object({ type: z.literal("tool_result"), toolCall: ToolCallView }),
  /** A tier-3 tool call waits for the owner's approval. */
  z.object({ type: z.literal("confirmation"), toolCall: ToolCallView }),
  /** Tokens of one model call, and the conversation's totals. */
  z.object({ type: z.literal("usage"), messageId: z.string(), model: z.string(), usage: Usage, total: Usage }),
  /** The provider was busy (429, 529, 5xx): the call is tried again after `waitMs`. */
  z.object({ type: z.literal("retry"), attempt: z.number().int(), waitMs: z.number().int(), reason: z.string() }),
  z.object({ type: z.literal("turn"), turn: TurnView }),
  /** The answer ended; `canContinue` after the step limit. */
  z.object({ type: z.literal("done"), turnId: z.string(), status: TurnStatus, canContinue: z.boolean(), note: z.string().nullable() }),
  z.object({ type: z.literal("error"), code: z.string(), message: z.string() }),
  /** Title, model or target changed. */
  z.object({ type: z.literal("conversation"), conversation: ConversationSummary }),
  /** The conversation was deleted; the socket closes after this. */
  z.object({ type: z.literal("deleted") }),
]);
export type ChatEvent = z.infer<typeof ChatEvent>;

export { CHAT_PING, DEFAULT_CHAT_STEP_LIMIT, MAX_CHAT_MESSAGE_CHARS, MAX_CHAT_STEP_LIMIT } from "./chat-constants.ts";
