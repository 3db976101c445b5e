import * as z from "zod";
import { NodeId, Label } from "./identifiers.ts";
import { CapabilityTier } from "./tiers.ts";
import { Metrics } from "./metrics.ts";
import { ActionName, ErrorCode, ResultData } from "./directives.ts";
import { MAX_BATCH_MESSAGES, MAX_CHUNK_BYTES, MAX_HEARTBEAT_MS, MAX_RESULT_TEXT_CHARS, MAX_RUN_TAIL_BYTES, MIN_HEARTBEAT_MS } from "./limits.ts";
import { RoostProgress } from "./roost-progress.ts";
import { MAX_EVENTS_PER_FRAME, ProcessConfig, ProcessEvent, ProcessEventId, SupervisionStatus } from "./processes.ts";

/**
 * The node <-> hub wire protocol: JSON text frames with a `type`. The fields named in the original Cortex
 * protocol are required; every addition of ours is optional so agents already in the field keep working.
 * Every string and every list a node sends has a bound (test/node/protocol-bounds.test.ts checks that none is
 * missing): a node token lets a machine report on its own work, not make the hub store whatever it likes.
 */

const DirectiveId = z.string().min(1).max(128);
/** A moment in milliseconds since the epoch, as agents report them. */
const Timestamp = z.number().int().nonnegative().max(8.64e15);

// ---- node -> hub ----

export const RegisterMessage = z.object({
  type: z.literal("register"),
  agentId: NodeId,
  name: Label,
  token: z.string().min(1).max(512).optional(),
  capabilities: z.array(z.string().max(64)).max(64),
  version: z.string().min(1).max(64),
  tier: CapabilityTier.optional(),
  group: Label.optional(),
  lastProcessedDirectiveId: DirectiveId.optional(),
  hostname: z.string().max(255).optional(),
  os: z.string().max(255).optional(),
  arch: z.string().max(64).optional(),
  heartbeatMs: z.number().int().min(MIN_HEARTBEAT_MS).max(MAX_HEARTBEAT_MS).optional(),
  /** Our addition: the folder an unprivileged agent is confined to, so the hub checks paths against the same one. */
  sandboxRoot: z.string().startsWith("/").max(4096).optional(),
});

export const HeartbeatMessage = z.object({
  type: z.literal("heartbeat"),
  agentId: NodeId,
  metrics: Metrics.optional(),
  /** Our addition: supervised processes, their state and usage (with the full heartbeats that carry metrics). */
  supervision: SupervisionStatus.optional(),
});

export const ResultMessage = z.object({
  type: z.literal("result"),
  directiveId: DirectiveId,
  success: z.boolean(),
  output: z.string().max(MAX_RESULT_TEXT_CHARS),
  error: z.string().max(16 * 1024).optional(),
  durationMs: z.number().nonnegative(),
  exitCode: z.number().int().nullable().optional(),
  errorCode: ErrorCode.optional(),
  truncated: z.boolean().optional(),
  data: ResultData.optional(),
  /** Our addition: how many stream chunks were sent, so the hub can wait for any still in flight. */
  chunks: z.number().int().nonnegative().optional(),
  /** Our addition: the signal that killed the command (e.g. "SIGKILL"), when a signal ended it; `exitCode` is then null. */
  signal: z.string().max(15).regex(/^SIG[A-Z0-9]{1,12}$/).optional(),
});

export const StreamChunkMessage = z.object({
  type: z.literal("stream_chunk"),
  directiveId: DirectiveId,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  chunk: z.string().max(MAX_CHUNK_BYTES),
  stream: z.enum(["stdout", "stderr"]).optional(),
});

export const DisconnectMessage = z.object({
  type: z.literal("disconnect"),
  reason: z.string().max(1024),
});

/** Our addition: the agent has received a directive and started it (or recognised it as a repeat). */
export const DirectiveAckMessage = z.object({
  type: z.literal("directive_ack"),
  directiveId: DirectiveId,
  duplicate: z.boolean().optional(),
});

/** Our addition: a long run finished; sent until the hub acknowledges it, so it is reported exactly once. */
export const RunCompleteMessage = z.object({
  type: z.literal("run_complete"),
  runId: z.string().min(1).max(128),
  directiveId: DirectiveId,
  state: z.enum(["done", "failed", "cancelled", "stalled", "lost"]),
  exitCode: z.number().int().nullable(),
  reason: z.string().max(4096).optional(),
  outputTail: z.string().max(MAX_RUN_TAIL_BYTES),
  startedAt: Timestamp,
  endedAt: Timestamp,
});

/**
 * Our addition: things that happened to supervised processes, oldest first. Sent until the hub acknowledges them
 * (queued on disk while offline), so each reaches the hub at least once; the hub drops repeats by id.
 */
export const ProcessEventsMessage = z.object({
  type: z.literal("process_events"),
  events: z.array(ProcessEvent).min(1).max(MAX_EVENTS_PER_FRAME),
});

/** Our addition: how far a long directive (a roost deployment) has come; sent a few times a second at most. */
export const DirectiveProgressMessage = z.object({
  type: z.literal("directive_progress"),
  directiveId: DirectiveId,
  progress: RoostProgress,
});

/**
 * Our addition: work messages sent together in one frame, in the order they happened, which the hub takes in one
 * turn (one storage commit). An agent holds a directive's ack and output for a few milliseconds, so a directive that
 * ends within them costs one frame (ack, output, result) instead of three. Sent only to a hub that announced it
 * takes them (`registered.batches`); the hub still takes every message on its own, as older agents send them.
 */
export const BatchMessage = z.object({
  type: z.literal("batch"),
  messages: z
    .array(z.discriminatedUnion("type", [DirectiveAckMessage, StreamChunkMessage, ResultMessage, DirectiveProgressMessage]))
    .min(1)
    .max(MAX_BATCH_MESSAGES),
});

export const ErrorMessage = z.object({
  type: z.literal("error"),
  message: z.string().max(4096),
  code: z.union([z.string().max(64), z.number().int()]).optional(),
});

export const NodeToHubMessage = z.discriminatedUnion("type", [
  RegisterMessage,
  HeartbeatMessage,
  ResultMessage,
  StreamChunkMessage,
  DisconnectMessage,
  DirectiveAckMessage,
  RunCompleteMessage,
  ProcessEventsMessage,
  DirectiveProgressMessage,
  BatchMessage,
  ErrorMessage,
]);
export type NodeToHubMessage = z.infer<typeof NodeToHubMessage>;
export type RegisterMessage = z.infer<typeof RegisterMessage>;
export type HeartbeatMessage = z.infer<typeof HeartbeatMessage>;
export type ResultMessage = z.infer<typeof ResultMessage>;
export type StreamChunkMessage = z.infer<typeof StreamChunkMessage>;
export type RunCompleteMessage = z.infer<typeof RunCompleteMessage>;
export type ProcessEventsMessage = z.infer<typeof ProcessEventsMessage>;
export type DirectiveProgressMessage = z.infer<typeof DirectiveProgressMessage>;
export type BatchMessage = z.infer<typeof BatchMessage>;
/** A message that may travel inside a `batch`. */
export type BatchedMessage = BatchMessage["messages"][number];

// ---- hub -> node ----

export const RegisteredMessage = z.object({
  type: z.literal("registered"),
  agentId: NodeId,
  tier: CapabilityTier.optional(),
  heartbeatMs: z.number().int().positive().optional(),
  /** Our addition: this hub takes `batch` frames; an agent sends them only when told so. */
  batches: z.boolean().optional(),
});

export const HeartbeatAckMessage = z.object({
  type: z.literal("heartbeat_ack"),
  agentId: NodeId,
});

export const DirectiveMessage = z.object({
  type: z.literal("directive"),
  id: DirectiveId,
  sessionId: z.string().max(128),
  action: ActionName,
  /** Validated per action by the agent (`parseActionCall`), so an unknown shape is refused there, not here. */
  params: z.record(z.string(), z.unknown()),
  stream: z.boolean().optional(),
  timeoutMs: z.number().int().positive().optional(),
  /**
   * Our addition: set when the caller may only read (risk tier 1). Every path the action touches must really lie
   * under one of these folders, as the agent finds them on disk (an opened descriptor's real path), whatever the
   * node's capability tier would allow.
   */
  confineTo: z.array(z.string().startsWith("/").max(4096)).max(32).optional(),
});

export const CancelMessage = z.object({
  type: z.literal("cancel"),
  directiveId: DirectiveId,
});

export const ConfigUpdateMessage = z.object({
  type: z.literal("config_update"),
  heartbeatMs: z.number().int().min(MIN_HEARTBEAT_MS).max(MAX_HEARTBEAT_MS).optional(),
  group: Label.optional(),
  name: Label.optional(),
  /** Our addition: the machine's supervised processes, sent on every connect and on each change. */
  processes: ProcessConfig.optional(),
});

export const RekeyMessage = z.object({
  type: z.literal("rekey"),
  agentId: NodeId,
  newToken: z.string().min(1).max(512),
});

/**
 * Our addition: the hub has settled a `run_complete` (recorded it, or refused it for good with an `error`, when it
 * names a directive that launched no such run on this node); the agent may forget it.
 */
export const RunCompleteAckMessage = z.object({
  type: z.literal("run_complete_ack"),
  runId: z.string().min(1).max(128),
});

/** Our addition: the hub has recorded these process events (or had already); the agent may forget them. */
export const ProcessEventsAckMessage = z.object({
  type: z.literal("process_events_ack"),
  ids: z.array(ProcessEventId).max(MAX_EVENTS_PER_FRAME),
});

export const HubToNodeMessage = z.discriminatedUnion("type", [
  RegisteredMessage,
  HeartbeatAckMessage,
  DirectiveMessage,
  CancelMessage,
  ConfigUpdateMessage,
  RekeyMessage,
  RunCompleteAckMessage,
  ProcessEventsAckMessage,
  ErrorMessage,
]);
export type HubToNodeMessage = z.infer<typeof HubToNodeMessage>;
export type DirectiveMessage = z.infer<typeof DirectiveMessage>;
export type ConfigUpdateMessage = z.infer<typeof ConfigUpdateMessage>;
