import * as z from "zod";
import { Label, NodeId } from "./identifiers.ts";
import { CapabilityTier } from "./tiers.ts";
import { Metrics } from "./metrics.ts";
import { ActionName, DirectiveStatus, ErrorCode, ResultData } from "./directives.ts";

/** Bodies of the hub's HTTP API. Worker routes parse requests with these; the CLI and web parse responses. */

export { ApiError } from "./api-error.ts";

export const NodeStatus = z.enum(["connecting", "connected", "disconnected", "error", "deregistered"]);
export type NodeStatus = z.infer<typeof NodeStatus>;

export const RegisterNodeRequest = z.object({
  name: Label,
  id: NodeId.optional(),
  group: Label.optional(),
  tier: CapabilityTier.default("unprivileged"),
});
export type RegisterNodeRequest = z.input<typeof RegisterNodeRequest>;

export const NodeView = z.object({
  id: NodeId,
  name: z.string(),
  group: z.string().nullable(),
  /** The ceiling set at registration. */
  tier: CapabilityTier,
  /** The tier the connected agent asked for (at most `tier`). */
  runningTier: CapabilityTier.nullable(),
  status: NodeStatus,
  createdAt: z.number(),
  connectedAt: z.number().nullable(),
  disconnectedAt: z.number().nullable(),
  lastHeartbeatAt: z.number().nullable(),
  deregisteredAt: z.number().nullable(),
  metrics: Metrics.nullable(),
  version: z.string().nullable(),
  os: z.string().nullable(),
  hostname: z.string().nullable(),
  arch: z.string().nullable(),
  /** The sandbox folder the connected agent reported; null means the default. */
  sandboxRoot: z.string().nullable(),
  capabilities: z.array(z.string()),
  lastError: z.string().nullable(),
  /** Prefix of the current token, enough to tell tokens apart, never enough to use one. */
  tokenPrefix: z.string(),
  /** The AI chat may call tools on this machine (site admins turn it off; a chat tool call to it is refused). */
  aiToolsAllowed: z.boolean().default(true),
});
export type NodeView = z.infer<typeof NodeView>;

export const NodeListResponse = z.object({ nodes: z.array(NodeView) });
export type NodeListResponse = z.infer<typeof NodeListResponse>;

/** What a site admin may change on a registered node. */
export const UpdateNodeRequest = z.object({ aiToolsAllowed: z.boolean() });
export type UpdateNodeRequest = z.infer<typeof UpdateNodeRequest>;

/** What `register` and `rekey` return: the token is shown here once and never again. */
export const NodeCredentials = z.object({
  id: NodeId,
  name: z.string(),
  tier: CapabilityTier,
  group: z.string().nullable(),
  token: z.string(),
  endpoint: z.string(),
  /** The line that installs the agent from this hub on the machine and starts it; it asks for the token. */
  installCommand: z.string(),
  /** For development from a checkout: runs the agent with the token read from a file. */
  connectCommand: z.string(),
});
export type NodeCredentials = z.infer<typeof NodeCredentials>;

export const ActivityLevel = z.enum(["debug", "info", "warn", "error"]);
export type ActivityLevel = z.infer<typeof ActivityLevel>;

export const ActivityKind = z.enum(["node", "directive", "access", "settings", "process", "deployment", "chat", "autonomy"]);
export type ActivityKind = z.infer<typeof ActivityKind>;

export const ActivityEntry = z.object({
  id: z.number().int(),
  /** When the entry was made: for a directive, when it was asked for. */
  at: z.number(),
  kind: ActivityKind,
  level: ActivityLevel,
  nodeId: z.string().nullable(),
  actor: z.string().nullable(),
  message: z.string(),
  data: z.record(z.string(), z.unknown()).nullable(),
  /** The directive this entry tells about: one entry per directive, updated in place until it ends. */
  directiveId: z.string().nullable(),
  /** The fan-out the directive belongs to, or that this entry sums up. */
  fanoutId: z.string().nullable(),
  /** When the entry last changed (a directive's entry changes when it ends); null if never. */
  updatedAt: z.number().nullable(),
});
export type ActivityEntry = z.infer<typeof ActivityEntry>;

export const ActivityQuery = z.object({
  kind: ActivityKind.optional(),
  level: ActivityLevel.optional(),
  node: NodeId.optional(),
  since: z.coerce.number().int().nonnegative().optional(),
  until: z.coerce.number().int().nonnegative().optional(),
  /** Entries with an id below this one: the cursor for the next page. */
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type ActivityQuery = z.output<typeof ActivityQuery>;

export const ActivityPage = z.object({
  entries: z.array(ActivityEntry),
  nextBefore: z.number().int().nullable(),
});
export type ActivityPage = z.infer<typeof ActivityPage>;

// ---- directives ----

export const DirectiveRequest = z.object({
  action: ActionName,
  params: z.record(z.string(), z.unknown()),
  /** Hub-side limit for the whole directive; defaults to the action's own timeout plus a margin. */
  timeoutMs: z.number().int().positive().max(24 * 3600_000).optional(),
});
export type DirectiveRequest = z.infer<typeof DirectiveRequest>;

export const FanOutTarget = z.union([
  z.object({ all: z.literal(true) }),
  z.object({ group: Label }),
  z.object({ nodes: z.array(NodeId).min(1).max(10_000) }),
]);
export type FanOutTarget = z.infer<typeof FanOutTarget>;

export const FanOutRequest = DirectiveRequest.extend({
  target: FanOutTarget,
  concurrency: z.number().int().min(1).max(10_000).default(50),
});
export type FanOutRequest = z.input<typeof FanOutRequest>;

/**
 * A result the agent sent after the hub had given its directive up as `lost` (the node dropped, or the hub restarted,
 * while it ran). The directive stays lost, since nobody was told otherwise in time; what it did is kept beside it.
 */
export const LateResult = z.object({
  receivedAt: z.number(),
  success: z.boolean(),
  exitCode: z.number().int().nullable(),
  output: z.string(),
  truncated: z.boolean(),
  error: z.string().nullable(),
  errorCode: ErrorCode.nullable(),
});
export type LateResult = z.infer<typeof LateResult>;

export const DirectiveView = z.object({
  id: z.string(),
  fanoutId: z.string().nullable(),
  nodeId: z.string(),
  action: ActionName,
  params: z.record(z.string(), z.unknown()),
  status: DirectiveStatus,
  requestedBy: z.string(),
  createdAt: z.number(),
  sentAt: z.number().nullable(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
  timeoutMs: z.number(),
  exitCode: z.number().int().nullable(),
  /** The signal that killed the command (e.g. "SIGKILL"), when one did; `exitCode` is then null. */
  signal: z.string().nullable().default(null),
  outputBytes: z.number().int(),
  output: z.string().nullable(),
  /**
   * The output exists but is not shown to this viewer: someone who may only read does not see what a directive
   * of another person that was not confined to the readable paths printed (see docs/threat-model.md).
   */
  outputWithheld: z.boolean(),
  truncated: z.boolean(),
  error: z.string().nullable(),
  errorCode: ErrorCode.nullable(),
  data: ResultData.nullable(),
  lateResult: LateResult.nullable(),
});
export type DirectiveView = z.infer<typeof DirectiveView>;

export const FanOutAggregate = z.object({
  fanoutId: z.string(),
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  offline: z.number().int(),
  refused: z.number().int(),
  cancelled: z.number().int(),
  timedOut: z.number().int(),
  lost: z.number().int(),
  /** For a fan-out to all nodes: the registered nodes that were offline, so not asked (they are not in `total`). */
  skippedOffline: z.number().int().default(0),
});
export type FanOutAggregate = z.infer<typeof FanOutAggregate>;

/** A fan-out's outcome when the caller waits for it instead of streaming. */
export const FanOutResponse = z.object({
  fanoutId: z.string(),
  aggregate: FanOutAggregate.nullable(),
  directives: z.array(DirectiveView),
  /**
   * The members whose output this answer leaves out (their `output` is null here) because the answer reached its
   * size limit (`MAX_FAN_OUT_ANSWER_CHARS`); `GET /directives/:id` gives each one's output, or its event stream does.
   */
  outputOmitted: z.array(z.string()).default([]),
});
export type FanOutResponse = z.infer<typeof FanOutResponse>;

/** Server-sent events of a streamed directive or fan-out, one JSON object per `data:` line. */
export const DirectiveEvent = z.discriminatedUnion("event", [
  z.object({
    event: z.literal("chunk"),
    directiveId: z.string(),
    nodeId: z.string(),
    seq: z.number().int(),
    chunk: z.string(),
    stream: z.enum(["stdout", "stderr"]).optional(),
  }),
  z.object({ event: z.literal("status"), directiveId: z.string(), nodeId: z.string(), status: DirectiveStatus }),
  z.object({ event: z.literal("result"), directive: DirectiveView }),
  z.object({ event: z.literal("aggregate"), aggregate: FanOutAggregate }),
]);
export type DirectiveEvent = z.infer<typeof DirectiveEvent>;

/**
 * What the hub knows of a long run on a node: who launched it and when, and how it ended once the agent reported
 * the end (kept by the hub, so it can be read while the node is offline). `ended` is null while no end was reported.
 */
export const RunRecord = z.object({
  runId: z.string(),
  nodeId: z.string(),
  directiveId: z.string().nullable(),
  launchedBy: z.string().nullable(),
  launchedAt: z.number().nullable(),
  ended: z
    .object({
      state: z.enum(["done", "failed", "cancelled", "stalled", "lost"]),
      exitCode: z.number().int().nullable(),
      reason: z.string().nullable(),
      outputTail: z.string(),
      /** The tail was left out: this reader may not read what a run launched by someone else printed. */
      outputWithheld: z.boolean().optional(),
      startedAt: z.number(),
      endedAt: z.number(),
      reportedAt: z.number(),
    })
    .nullable(),
});
export type RunRecord = z.infer<typeof RunRecord>;

export const DirectiveListQuery = z.object({
  node: NodeId.optional(),
  status: DirectiveStatus.optional(),
  action: ActionName.optional(),
  fanout: z.string().max(128).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
export type DirectiveListQuery = z.output<typeof DirectiveListQuery>;

export const DirectiveListResponse = z.object({
  directives: z.array(DirectiveView),
  nextBefore: z.number().int().nullable(),
});
export type DirectiveListResponse = z.infer<typeof DirectiveListResponse>;
