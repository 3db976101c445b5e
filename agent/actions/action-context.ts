import type { ErrorCode, ResultData } from "../../protocol/directives.ts";
import type { RoostProgress } from "../../protocol/roost-progress.ts";
import type { HubAccess } from "../roost/hub-chunk-source.ts";
import type { HostEnvironment } from "../host/host-environment.ts";
import type { TrackedProcesses } from "../processes/tracked-processes.ts";
import type { RunManager } from "../runs/run-manager.ts";
import type { PathPolicy } from "../sandbox/path-policy.ts";
import type { ProcessSupervisor } from "../supervisor/process-supervisor.ts";
import type { FileActionRunner } from "../worker/file-runner.ts";

export type OutputStream = "stdout" | "stderr";

/** Where an action writes its text output: it is streamed (when the directive streams) and kept for the result. */
export interface OutputSink {
  write(data: Buffer | string, stream?: OutputStream): void;
}

/**
 * What an action run by the agent gets. Nothing here runs as root at tiers sudo and unprivileged: programs start
 * through `processes` (as the action user, tracked for cancel), files are reached through `files` (the action
 * worker, as the action user, every descriptor checked by `policy`).
 */
export interface ActionContext {
  directiveId: string;
  /** Aborted on timeout, cancel or shutdown, with an `ActionError` as the reason. */
  signal: AbortSignal;
  out: OutputSink;
  /** The directive's path policy: tier, sandbox and the caller's confinement. */
  policy: PathPolicy;
  files: FileActionRunner;
  /** Starts programs as the action user; every process they start is stopped with the directive. */
  processes: TrackedProcesses;
  runs: RunManager;
  /** Grace between the steps of SIGINT → SIGTERM → SIGKILL. */
  killGraceMs: number;
  /** The supervisor of this machine's processes, for the `supervised.*` actions; null when there is none. */
  supervisor: ProcessSupervisor | null;
  /** The hub's HTTP side with this node's token, for actions that download (roost deployments); null when unknown. */
  hub: HubAccess | null;
  /** Reports how far a long action has come (sent to the hub as `directive_progress`). */
  progress: (progress: RoostProgress) => void;
  /** The machine as the machine actions see it: tier, system programs, temporary folders, the agent's status. */
  host: HostEnvironment;
}

/** How an action ended; its text output has already gone to the sink. */
export interface ActionOutcome {
  exitCode?: number | null;
  /** The signal that ended the command, when one did. */
  signal?: NodeJS.Signals;
  data?: ResultData;
  /** Set when the action ran but did not succeed, e.g. a command exiting non-zero. */
  failure?: { message: string; errorCode?: ErrorCode };
}
