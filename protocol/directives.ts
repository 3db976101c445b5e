import { z } from "zod";
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
import { AbsolutePath } from "./paths.ts";
import { ChunkHash, RoostName, VersionNumber } from "./roost-manifest.ts";
import { MAX_PROCESS_LOG_LINES, ProcessName, ProcessStatus } from "./processes.ts";

export const BashParams = z.object({
  command: z.string().min(1).max(64 * 1024),
  cwd: AbsolutePath.optional(),
  timeoutMs: z.number().int().positive().max(MAX_BASH_TIMEOUT_MS).default(DEFAULT_BASH_TIMEOUT_MS),
  /**
   * A login shell (`bash -l`) by default, so PATH and environment match a terminal of the machine's user; false
   * starts a plain non-login shell, which skips the profile scripts (over 100 ms on machines with a real profile).
   */
  login: z.boolean().default(true),
});

export const ReadParams = z.object({
  path: AbsolutePath,
  /** First line to return, 1-based. */
  offset: z.number().int().min(1).default(1),
  limit: z.number().int().positive().max(100_000).default(2_000),
});

export const WriteParams = z.object({
  path: AbsolutePath,
  content: z.string().max(MAX_WRITE_BYTES),
  encoding: z.enum(["utf8", "base64"]).default("utf8"),
});

export const EditParams = z.object({
  path: AbsolutePath,
  oldString: z.string().min(1).max(MAX_WRITE_BYTES),
  newString: z.string().max(MAX_WRITE_BYTES),
  replaceAll: z.boolean().default(false),
});

export const GlobParams = z.object({
  pattern: z.string().min(1).max(1024),
  path: AbsolutePath,
  limit: z.number().int().positive().max(MAX_GLOB_RESULTS).default(MAX_GLOB_RESULTS),
});

export const GrepParams = z.object({
  pattern: z.string().min(1).max(4096),
  path: AbsolutePath,
  glob: z.string().max(1024).optional(),
  caseInsensitive: z.boolean().default(false),
  outputMode: z.enum(["content", "files_with_matches", "count"]).default("content"),
  headLimit: z.number().int().positive().max(10_000).default(250),
  offset: z.number().int().nonnegative().default(0),
});

export const RunLaunchParams = z.object({
  command: z.string().min(1).max(64 * 1024),
  cwd: AbsolutePath.optional(),
  name: z.string().max(100).optional(),
  stallTimeoutMs: z.number().int().positive().max(MAX_STALL_TIMEOUT_MS).default(DEFAULT_STALL_TIMEOUT_MS),
});

export const RunRefParams = z.object({ runId: z.string().regex(/^run-[a-z0-9-]{1,64}$/) });

/** A supervised process, by the name the hub configured it under. */
export const SupervisedRefParams = z.object({ name: ProcessName });
export const SupervisedLogsParams = z.object({
  name: ProcessName,
  lines: z.number().int().min(1).max(MAX_PROCESS_LOG_LINES).default(200),
});

/**
 * Puts a roost version in place under `path` (the hub sends it for a deployment; it is not for the directive API).
 * `roost.deploy` fetches what the machine lacks; `roost.activate` switches to a version already on the machine.
 */
export const RoostSwitchParams = z.object({
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
});

/** Every action, with the schema of its params. The one place an action name is defined. */
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
export type ActionParams<A extends ActionName> = z.output<(typeof ACTION_PARAMS)[A]>;

/**
 * Actions only the hub itself sends, as one machine's part of a roost deployment: a node may fetch a version's
 * chunks only while a deployment names it, so these cannot be asked for through the directive API.
 */
export const HUB_ONLY_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>(["roost.deploy", "roost.activate"]);

/** An action with its params, validated together. */
export const ActionCall = z.discriminatedUnion("action", [
  z.object({ action: z.literal("bash"), params: BashParams }),
  z.object({ action: z.literal("read"), params: ReadParams }),
  z.object({ action: z.literal("write"), params: WriteParams }),
  z.object({ action: z.literal("edit"), params: EditParams }),
  z.object({ action: z.literal("glob"), params: GlobParams }),
  z.object({ action: z.literal("grep"), params: GrepParams }),
  z.object({ action: z.literal("run.launch"), params: RunLaunchParams }),
  z.object({ action: z.literal("run.status"), params: RunRefParams }),
  z.object({ action: z.literal("run.cancel"), params: RunRefParams }),
  z.object({ action: z.literal("list"), params: ListParams }),
  z.object({ action: z.literal("system.info"), params: SystemInfoParams }),
  z.object({ action: z.literal("process.list"), params: ProcessListParams }),
  z.object({ action: z.literal("disk.usage"), params: DiskUsageParams }),
  z.object({ action: z.literal("network.info"), params: NetworkInfoParams }),
  z.object({ action: z.literal("service.status"), params: ServiceStatusParams }),
  z.object({ action: z.literal("logs.read"), params: LogsReadParams }),
  z.object({ action: z.literal("agent.health"), params: AgentHealthParams }),
  z.object({ action: z.literal("service.manage"), params: ServiceManageParams }),
  z.object({ action: z.literal("process.signal"), params: ProcessSignalParams }),
  z.object({ action: z.literal("disk.clean"), params: DiskCleanParams }),
  z.object({ action: z.literal("system.reboot"), params: PowerParams }),
  z.object({ action: z.literal("system.shutdown"), params: PowerParams }),
  z.object({ action: z.literal("system.cancel_shutdown"), params: CancelShutdownParams }),
  z.object({ action: z.literal("supervised.start"), params: SupervisedRefParams }),
  z.object({ action: z.literal("supervised.stop"), params: SupervisedRefParams }),
  z.object({ action: z.literal("supervised.restart"), params: SupervisedRefParams }),
  z.object({ action: z.literal("supervised.logs"), params: SupervisedLogsParams }),
  z.object({ action: z.literal("roost.deploy"), params: RoostSwitchParams }),
  z.object({ action: z.literal("roost.activate"), params: RoostSwitchParams }),
]);
export type ActionCall = z.output<typeof ActionCall>;

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
