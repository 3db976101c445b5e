import * as z from "zod";
import {
  DEFAULT_BASH_TIMEOUT_MS,
  DEFAULT_STALL_TIMEOUT_MS,
  MAX_BASH_TIMEOUT_MS,
  MAX_FRAME_BYTES,
  MAX_STALL_TIMEOUT_MS,
  MAX_WRITE_BYTES,
  MAX_GLOB_RESULTS,
} from "./limits.ts";
import {
  AgentHealthParams,
  CancelShutdownParams,
  DiskCleanParams,
  DiskUsageParams,
  ListParams,
  LogsReadParams,
  NetworkInfoParams,
  PowerParams,
  ProcessListParams,
  ProcessSignalParams,
  ServiceManageParams,
  ServiceStatusParams,
  SystemInfoParams,
} from "./machine-actions.ts";
import { onFirstUse } from "./lazy-schema.ts";
import { AbsolutePath } from "./paths.ts";
import { ChunkHash, RoostName, VersionNumber } from "./roost-manifest.ts";
import { MAX_PROCESS_LOG_LINES, ProcessName, ProcessStatus } from "./processes.ts";

// Each action's params are built by the first directive that names it (protocol/lazy-schema.ts): the agent, which runs
// for as long as the machine, builds and keeps only the schemas of the actions it is asked to run.

export const BashParams = onFirstUse(() =>
  z.object({
    command: z.string().min(1).max(64 * 1024),
    cwd: AbsolutePath.optional(),
    timeoutMs: z.number().int().positive().max(MAX_BASH_TIMEOUT_MS).default(DEFAULT_BASH_TIMEOUT_MS),
    /**
     * A login shell (`bash -l`) by default, so PATH and environment match a terminal of the machine's user; false
     * starts a plain non-login shell, which skips the profile scripts (over 100 ms on machines with a real profile).
     */
    login: z.boolean().default(true),
  }),
);

export const ReadParams = onFirstUse(() =>
  z.object({
    path: AbsolutePath,
    /** First line to return, 1-based. */
    offset: z.number().int().min(1).default(1),
    limit: z.number().int().positive().max(100_000).default(2_000),
  }),
);

export const WriteParams = onFirstUse(() =>
  z.object({
    path: AbsolutePath,
    content: z.string().max(MAX_WRITE_BYTES),
    encoding: z.enum(["utf8", "base64"]).default("utf8"),
  }),
);

export const EditParams = onFirstUse(() =>
  z.object({
    path: AbsolutePath,
    oldString: z.string().min(1).max(MAX_WRITE_BYTES),
    newString: z.string().max(MAX_WRITE_BYTES),
    replaceAll: z.boolean().default(false),
  }),
);

export const GlobParams = onFirstUse(() =>
  z.object({
    pattern: z.string().min(1).max(1024),
    path: AbsolutePath,
    limit: z.number().int().positive().max(MAX_GLOB_RESULTS).default(MAX_GLOB_RESULTS),
  }),
);

export const GrepParams = onFirstUse(() =>
  z.object({
    pattern: z.string().min(1).max(4096),
    path: AbsolutePath,
    glob: z.string().max(1024).optional(),
    caseInsensitive: z.boolean().default(false),
    outputMode: z.enum(["content", "files_with_matches", "count"]).default("content"),
    headLimit: z.number().int().positive().max(10_000).default(250),
    offset: z.number().int().nonnegative().default(0),
  }),
);

export const RunLaunchParams = onFirstUse(() =>
  z.object({
    command: z.string().min(1).max(64 * 1024),
    cwd: AbsolutePath.optional(),
    name: z.string().max(100).optional(),
    stallTimeoutMs: z.number().int().positive().max(MAX_STALL_TIMEOUT_MS).default(DEFAULT_STALL_TIMEOUT_MS),
  }),
);

export const RunRefParams = onFirstUse(() => z.object({ runId: z.string().regex(/^run-[a-z0-9-]{1,64}$/) }));

/** A supervised process, by the name the hub configured it under. */
export const SupervisedRefParams = onFirstUse(() => z.object({ name: ProcessName }));
export const SupervisedLogsParams = onFirstUse(() =>
  z.object({
    name: ProcessName,
    lines: z.number().int().min(1).max(MAX_PROCESS_LOG_LINES).default(200),
  }),
);

/**
 * Puts a roost version in place under `path` (the hub sends it for a deployment; it is not for the directive API).
 * `roost.deploy` fetches what the machine lacks; `roost.activate` switches to a version already on the machine.
 */
export const RoostSwitchParams = onFirstUse(() =>
  z.object({
    deploymentId: z.string().min(1).max(64),
    roost: RoostName,
    version: VersionNumber,
    /** The hash of the manifest as the hub stored it; the agent refuses any other. */
    manifestSha256: ChunkHash,
    path: AbsolutePath,
    keep: z.number().int().min(0).max(50).default(3),
    after: z.string().min(1).max(64 * 1024).optional(),
    afterTimeoutMs: z.number().int().positive().max(MAX_BASH_TIMEOUT_MS).default(DEFAULT_BASH_TIMEOUT_MS),
    timeoutMs: z.number().int().positive().max(24 * 3600_000).default(3600_000),
  }),
);

/** Every action, with (the builder of) the schema of its params. The one place an action name is defined. */
export const ACTION_PARAMS = {
  bash: BashParams,
  read: ReadParams,
  write: WriteParams,
  edit: EditParams,
  glob: GlobParams,
  grep: GrepParams,
  "run.launch": RunLaunchParams,
  "run.status": RunRefParams,
  "run.cancel": RunRefParams,
  list: ListParams,
  "system.info": SystemInfoParams,
  "process.list": ProcessListParams,
  "disk.usage": DiskUsageParams,
  "network.info": NetworkInfoParams,
  "service.status": ServiceStatusParams,
  "logs.read": LogsReadParams,
  "agent.health": AgentHealthParams,
  "service.manage": ServiceManageParams,
  "process.signal": ProcessSignalParams,
  "disk.clean": DiskCleanParams,
  "system.reboot": PowerParams,
  "system.shutdown": PowerParams,
  "system.cancel_shutdown": CancelShutdownParams,
  "supervised.start": SupervisedRefParams,
  "supervised.stop": SupervisedRefParams,
  "supervised.restart": SupervisedRefParams,
  "supervised.logs": SupervisedLogsParams,
  "roost.deploy": RoostSwitchParams,
  "roost.activate": RoostSwitchParams,
} as const;

export const ActionName = z.enum(Object.keys(ACTION_PARAMS) as [keyof typeof ACTION_PARAMS, ...(keyof typeof ACTION_PARAMS)[]]);
export type ActionName = z.infer<typeof ActionName>;
/** The schema of an action's params. */
export type ActionParamsSchema<A extends ActionName> = ReturnType<(typeof ACTION_PARAMS)[A]>;
export type ActionParams<A extends ActionName> = z.output<ActionParamsSchema<A>>;
/** What a caller may send as an action's params (defaults not yet filled in). */
export type ActionParamsInput<A extends ActionName> = z.input<ActionParamsSchema<A>>;

/**
 * Actions only the hub itself sends, as one machine's part of a roost deployment: a node may fetch a version's
 * chunks only while a deployment names it, so these cannot be asked for through the directive API.
 */
export const HUB_ONLY_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>(["roost.deploy", "roost.activate"]);

/** An action with its params, validated together: one member per action, discriminated by `action`. */
export type ActionCall = { [A in ActionName]: { action: A; params: ActionParams<A> } }[ActionName];

const CallOfUnknownAction = z.object({ action: ActionName });
const CALL_SCHEMAS = new Map<ActionName, z.ZodType<ActionCall>>();

function callSchema(action: ActionName): z.ZodType<ActionCall> {
  let schema = CALL_SCHEMAS.get(action);
  if (schema === undefined) {
    schema = z.object({ action: z.literal(action), params: ACTION_PARAMS[action]() }) as unknown as z.ZodType<ActionCall>;
    CALL_SCHEMAS.set(action, schema);
  }
  return schema;
}

/**
 * Validates an action with its params, untrusted input from the API, a model or the wire: an unknown action is
 * refused at `action`, wrong params at their path under `params`. Only the named action's schema is built.
 */
export function parseActionCall(input: { action: unknown; params: unknown }): z.ZodSafeParseResult<ActionCall> {
  const named = ActionName.safeParse(input.action);
  if (named.success) return callSchema(named.data).safeParse(input);
  const refused = CallOfUnknownAction.safeParse(input);
  return { success: false, error: new z.ZodError(refused.error?.issues ?? named.error.issues) as z.ZodError<ActionCall> };
}

export const DirectiveStatus = z.enum([
  "queued",
  "sent",
  "running",
  "done",
  "failed",
  "cancelled",
  "timed_out",
  "lost",
  "refused",
]);
export type DirectiveStatus = z.infer<typeof DirectiveStatus>;

export const TERMINAL_STATUSES: readonly DirectiveStatus[] = ["done", "failed", "cancelled", "timed_out", "lost", "refused"];

/** Why a directive did not succeed, when the reason is known more precisely than "failed". */
export const ErrorCode = z.enum([
  "tier_refused",
  /** The caller may only read, and only the site's readable paths (see protocol/read-confinement.ts). */
  "not_readable",
  "invalid_params",
  "unknown_action",
  "timeout",
  "cancelled",
  "stalled",
  "not_found",
  "conflict",
  "too_large",
  "offline",
  "lost",
  "exec_failed",
  /** The machine cannot do this at all (no systemd, another operating system, a program not installed). */
  "unsupported",
  /** The action refused to touch something on its protected list (init, sshd, the agent itself, ...). */
  "protected",
  /** A chat tool call to a machine whose "AI tools allowed" switch is off. */
  "ai_tools_off",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** Structured payloads some actions return next to their text output. */
export const ResultData = z.union([
  // An image travels in one result frame, so its base64 text is bounded by the frame.
  z.object({ kind: z.literal("image"), mediaType: z.enum(["image/png", "image/jpeg", "image/webp", "image/gif"]), base64: z.string().max(MAX_FRAME_BYTES) }),
  z.object({ kind: z.literal("run"), runId: z.string().max(128), pid: z.number().int().optional() }),
  z.object({
    kind: z.literal("run_status"),
    runId: z.string().max(128),
    state: z.enum(["running", "done", "failed", "cancelled", "stalled", "lost"]),
    exitCode: z.number().int().nullable(),
    reason: z.string().max(4096).optional(),
  }),
  /** A supervised process after a start, stop or restart. */
  z.object({ kind: z.literal("process"), status: ProcessStatus }),
  z.object({
    kind: z.literal("roost"),
    roost: RoostName,
    version: VersionNumber,
    /** The version's folder on the machine, which `current` now points to. */
    folder: AbsolutePath,
    downloadedBytes: z.number().int().nonnegative(),
    downloadedChunks: z.number().int().nonnegative(),
    /** Chunks taken from what the machine already had (its kept versions, an interrupted earlier download). */
    reusedChunks: z.number().int().nonnegative(),
    previousVersion: VersionNumber.nullable(),
  }),
]);
export type ResultData = z.infer<typeof ResultData>;
