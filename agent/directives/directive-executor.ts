import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod";
import { actionTimeoutMs } from "../../protocol/action-timeouts.ts";
import { parseActionCall, type ActionCall, type ErrorCode } from "../../protocol/directives.ts";
import { DEFAULT_BASH_TIMEOUT_MS } from "../../protocol/limits.ts";
import type { DirectiveMessage, ResultMessage } from "../../protocol/node-messages.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import type { ActionOutcome } from "../actions/action-context.ts";
import { ActionError } from "../actions/action-error.ts";
import { findRipgrep } from "../actions/grep-ripgrep.ts";
import { performAction } from "../actions/perform-action.ts";
import { resolveActionUser, type ActionUser } from "../privilege/action-user.ts";
import { requireUserSwitch } from "../privilege/spawn-as.ts";
import { cgroupParent, ownedCgroupParent, removeCgroup } from "../processes/cgroup.ts";
import { newTracking, terminateTracked, TrackedProcesses } from "../processes/tracked-processes.ts";
import { RunManager } from "../runs/run-manager.ts";
import { admitCall } from "../sandbox/path-guard.ts";
import { PathPolicy } from "../sandbox/path-policy.ts";
import { prepareSandbox } from "../sandbox/prepare-sandbox.ts";
import type { ProcessSupervisor } from "../supervisor/process-supervisor.ts";
import { ActionWorker, InProcessFileRunner, type FileActionRunner } from "../worker/file-runner.ts";
import { AGENT_VERSION } from "../connection/agent-version.ts";
import { DEFAULT_TEMP_ROOTS, defaultBinDirs, type HostEnvironment } from "../host/host-environment.ts";
import type { DirectiveHandler, SendToHub } from "./directive-handler.ts";
import { DirectiveJournal } from "./directive-journal.ts";
import { DirectiveOutput } from "./directive-output.ts";
import type { Logger } from "../connection/logger.ts";
import type { HubAccess } from "../roost/hub-chunk-source.ts";
import { fitResultFrame } from "./result-frame.ts";

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_RUN_RECHECK_MS = 60_000;
/** The protocol allows 16 KiB of error text; a message is a sentence, not a log. */
const MAX_ERROR_CHARS = 8_000;

export interface DirectiveExecutorOptions {
  tier: CapabilityTier;
  /** Created if missing, owned by the action user, mode 0700; refused if it is a symlink or someone else's. */
  sandboxRoot: string;
  /** The user actions run as at tiers sudo and unprivileged when the agent is root (see action-user.ts). */
  runAs?: string;
  /** Seen directive ids and long runs are kept here; without it they last only as long as the process. */
  stateDir?: string;
  log: Logger;
  /** Grace between SIGINT, SIGTERM and SIGKILL when stopping a process group. */
  killGraceMs?: number;
  /** How often unacknowledged run completions are sent again while connected. */
  runRecheckMs?: number;
  /** "auto" searches with ripgrep when it is on PATH (and the policy lets it); "builtin" always uses the JavaScript search. */
  grep?: "auto" | "builtin";
  /** Where per-directive cgroups go; detected when not given, null to track processes without cgroups. */
  cgroupParent?: string | null;
  /** The machine's process supervisor, for the `supervised.*` actions. */
  supervisor?: ProcessSupervisor;
  /** The hub's HTTP side, for roost deployments to download from; without it they fail. */
  hub?: HubAccess;
  /** Where machine actions find system programs and which temporary folders `disk.clean` cleans. */
  binDirs?: readonly string[];
  tempRoots?: readonly string[];
}

interface InFlight {
  controller: AbortController;
  done: Promise<void>;
}

function failureOf(err: unknown): { errorCode: ErrorCode; message: string } {
  if (err instanceof ActionError) return { errorCode: err.code, message: err.message };
  return { errorCode: "exec_failed", message: err instanceof Error ? err.message : String(err) };
}

function parseCall(directive: DirectiveMessage): ActionCall {
  const parsed = parseActionCall({ action: directive.action, params: directive.params });
  if (!parsed.success) throw new ActionError("invalid_params", `invalid params for ${directive.action}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The action's own time budget, or the directive's when that is sooner. */
function timeoutOf(call: ActionCall, directive: DirectiveMessage): number {
  const own = actionTimeoutMs(call) ?? DEFAULT_BASH_TIMEOUT_MS;
  return Math.min(own, directive.timeoutMs ?? own);
}

/**
 * Runs directives on this machine under the agent's capability tier, as the tier's OS user: validates, refuses early
 * what the tier forbids on its face, runs each action with streamed output, timeout and cancel (which reach every
 * process the directive started), and answers every directive id exactly once. Construction fails with a
 * StartupError when the agent could not keep its tier's promises (no action user, an untrustworthy sandbox).
 */
export class DirectiveExecutor implements DirectiveHandler {
  private send: SendToHub = () => false;
  private online = false;
  private recheck: NodeJS.Timeout | null = null;
  private readonly inFlight = new Map<string, InFlight>();
  /** Results finished while there was no connection, sent on the next one. */
  private readonly undelivered = new Map<string, ResultMessage>();
  private readonly journal: DirectiveJournal;
  private readonly runs: RunManager;
  private readonly files: FileActionRunner;
  private readonly tier: CapabilityTier;
  private supervisor: ProcessSupervisor | null;
  private readonly killGraceMs: number;
  private readonly runRecheckMs: number;
  private readonly log: Logger;
  private readonly cgroupParent: string | null;
  /** The cgroup is this agent's own (`ownedCgroupParent`), to be removed when it stops with nothing left in it. */
  private readonly ownsCgroup: boolean;
  /** Who actions run as. */
  readonly user: ActionUser;
  /** The sandbox's real path, as reported to the hub. */
  readonly sandboxRoot: string;
  /** Stopping what a previous agent process left running; awaited by `check`. */
  private readonly recovered: Promise<void>;
  private readonly hub: HubAccess | null;
  private readonly host: HostEnvironment;
  private connections = 0;
  private lastConnectedAt: number | null = null;

  constructor(options: DirectiveExecutorOptions) {
    if (options.stateDir) {
      // Holds the journal and long runs: the agent's user only (the token lives beside it).
      mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
      if (process.platform !== "win32") chmodSync(options.stateDir, 0o700);
    }
    this.log = options.log;
    this.tier = options.tier;
    this.user = resolveActionUser({ tier: options.tier, runAs: options.runAs });
    requireUserSwitch(this.user);
    this.sandboxRoot = prepareSandbox(options.sandboxRoot, this.user);
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.runRecheckMs = options.runRecheckMs ?? DEFAULT_RUN_RECHECK_MS;
    this.cgroupParent = options.cgroupParent === undefined ? this.detectCgroupParent(options.stateDir) : options.cgroupParent;
    this.ownsCgroup = options.cgroupParent === undefined && options.stateDir !== undefined && this.cgroupParent !== null;
    this.journal = new DirectiveJournal(options.stateDir ? join(options.stateDir, "directives.jsonl") : null, this.log);
    this.runs = new RunManager(options.stateDir, this.killGraceMs, () => this.reportRuns(), { user: this.user, cgroupParent: this.cgroupParent });
    const ripgrep = options.grep === "builtin" ? null : findRipgrep();
    this.files = this.user.switched ? new ActionWorker(this.user, ripgrep, this.killGraceMs) : new InProcessFileRunner(ripgrep);
    this.recovered = this.stopLeftOver();
    this.supervisor = options.supervisor ?? null;
    this.hub = options.hub ?? null;
    const startedAt = Date.now() - Math.round(process.uptime() * 1000);
    this.host = {
      tier: options.tier,
      binDirs: options.binDirs ?? defaultBinDirs(),
      tempRoots: options.tempRoots ?? DEFAULT_TEMP_ROOTS,
      keep: [this.sandboxRoot, ...(options.stateDir ? [options.stateDir] : [])],
      agentStatus: () => ({
        version: AGENT_VERSION,
        pid: process.pid,
        startedAt,
        tier: options.tier,
        sandboxRoot: this.sandboxRoot,
        stateDir: options.stateDir ?? null,
        directivesInFlight: this.inFlight.size,
        runs: this.runs.summary(),
        connections: this.connections,
        lastConnectedAt: this.lastConnectedAt,
        ripgrep: ripgrep !== null,
      }),
    };
  }

  /** Proves the action user can be switched to (starting the action worker) and finishes the start-up clean-up. */
  async check(): Promise<void> {
    await this.files.check(this.sandboxRoot);
    await this.recovered;
  }

  /**
   * The machine's process supervisor, for the `supervised.*` actions. It starts once the agent knows whom actions run
   * as (its processes run as that user too), so after the executor.
   */
  attachSupervisor(supervisor: ProcessSupervisor): void {
    this.supervisor = supervisor;
  }

  /** How this agent keeps its tier, in one line for the log. */
  describe(): string {
    const who = this.user.switched ? `as ${this.user.name} (uid ${this.user.uid})` : `as the agent's own user ${this.user.name}`;
    const tracking = this.cgroupParent ? `a cgroup per directive under ${this.cgroupParent}` : "session, descendants and an environment marker (no usable cgroup v2)";
    return `actions run ${who}; sandbox ${this.sandboxRoot}; processes tracked by ${tracking}`;
  }

  run(directive: DirectiveMessage, send: SendToHub): void {
    this.send = send;
    const directiveId = directive.id;
    const known = this.journal.get(directiveId);
    if (known !== undefined || this.inFlight.has(directiveId)) {
      send({ type: "directive_ack", directiveId, duplicate: true });
      if (known) this.deliver(known);
      return;
    }
    send({ type: "directive_ack", directiveId });
    const processes = new TrackedProcesses(newTracking(this.cgroupParent, "d"), this.user);
    this.journal.started(directiveId, processes.tracking);
    // In flight before it starts: the action itself may report what is in flight (agent.health).
    const entry: InFlight = { controller: new AbortController(), done: Promise.resolve() };
    this.inFlight.set(directiveId, entry);
    entry.done = this.execute(directive, entry.controller, processes)
      .then((result) => {
        // The hub hears first: the journal's result line only answers a repeat of this id, which the hub sends only
        // when this result never reached it; should the agent die between the two, the id reads as lost, as it would.
        this.deliver(result);
        processes.release();
        this.journal.finished(result);
      })
      .catch((err: unknown) => this.log("error", `directive ${directiveId}: ${String(err)}`))
      .finally(() => this.inFlight.delete(directiveId));
  }

  cancel(directiveId: string): void {
    this.inFlight.get(directiveId)?.controller.abort(new ActionError("cancelled", "cancelled on request"));
  }

  connected(send: SendToHub): void {
    this.send = send;
    this.online = true;
    this.connections++;
    this.lastConnectedAt = Date.now();
    for (const [directiveId, result] of this.undelivered) {
      if (!send(result)) return this.wentOffline();
      this.undelivered.delete(directiveId);
    }
    this.reportRuns();
    this.runs.watchAdopted();
    if (!this.recheck && this.online) {
      this.recheck = setInterval(() => this.reportRuns(), this.runRecheckMs);
      this.recheck.unref();
    }
  }

  runCompleteAcknowledged(runId: string): void {
    try {
      this.runs.acknowledge(runId);
    } catch (err) {
      this.log("warn", `cannot clear run ${runId}: ${(err as Error).message}`);
    }
  }

  activeCount(): number {
    return this.inFlight.size;
  }

  async shutdown(): Promise<void> {
    this.wentOffline();
    const running = [...this.inFlight.values()];
    for (const { controller } of running) controller.abort(new ActionError("cancelled", "the agent is shutting down"));
    await Promise.all(running.map(({ done }) => done));
    this.runs.close();
    await this.files.close();
    // Long runs outlive the agent in cgroups of their own under it; while one is there, the kernel keeps it.
    if (this.ownsCgroup) removeCgroup(this.cgroupParent!);
  }

  /** An agent with a state folder gets a cgroup of its own, cleared of what an earlier run of it left empty. */
  private detectCgroupParent(stateDir: string | undefined): string | null {
    if (!stateDir) return cgroupParent();
    const owned = ownedCgroupParent(stateDir);
    if (!owned) return null;
    if (owned.swept.length > 0) this.log("info", `removed ${owned.swept.length} empty cgroup(s) an earlier run of this agent left in ${owned.parent}`);
    return owned.parent;
  }

  private async stopLeftOver(): Promise<void> {
    for (const tracking of this.journal.takeLeftOver()) {
      try {
        await terminateTracked(tracking, this.killGraceMs);
      } catch (err) {
        this.log("warn", `cannot stop the processes of an interrupted directive (${tracking.marker}): ${(err as Error).message}`);
      }
    }
  }

  private async execute(directive: DirectiveMessage, controller: AbortController, processes: TrackedProcesses): Promise<ResultMessage> {
    const startedAt = Date.now();
    // Bash always streams; the hub decides whether anyone is listening.
    const streaming = directive.action === "bash" || directive.stream === true;
    const out = new DirectiveOutput(directive.id, streaming, (message) => this.send(message));
    let timer: NodeJS.Timeout | undefined;
    let outcome: ActionOutcome;
    try {
      const call = parseCall(directive);
      const confineTo = directive.confineTo ?? null;
      admitCall(call, this.tier, this.sandboxRoot, confineTo);
      const timeoutMs = timeoutOf(call, directive);
      timer = setTimeout(() => controller.abort(new ActionError("timeout", `timed out after ${timeoutMs} ms`)), timeoutMs);
      const policy = new PathPolicy({ tier: this.tier, sandboxRoot: this.sandboxRoot, confineTo });
      outcome = await performAction(call, {
        directiveId: directive.id,
        signal: controller.signal,
        out,
        policy,
        files: this.files,
        processes,
        runs: this.runs,
        killGraceMs: this.killGraceMs,
        host: this.host,
        supervisor: this.supervisor,
        hub: this.hub,
        progress: (progress) => void this.send({ type: "directive_progress", directiveId: directive.id, progress }),
      });
    } catch (err) {
      outcome = { failure: failureOf(controller.signal.aborted ? controller.signal.reason : err) };
    } finally {
      clearTimeout(timer);
    }
    out.end();
    const { failure } = outcome;
    return fitResultFrame({
      type: "result",
      directiveId: directive.id,
      success: !failure,
      output: out.text(),
      durationMs: Date.now() - startedAt,
      exitCode: outcome.exitCode ?? null,
      ...(outcome.signal && { signal: outcome.signal }),
      ...(failure && { error: failure.message.slice(0, MAX_ERROR_CHARS) }),
      ...(failure?.errorCode && { errorCode: failure.errorCode }),
      ...(out.truncated && { truncated: true }),
      ...(outcome.data && { data: outcome.data }),
      ...(streaming && { chunks: out.chunksSent }),
    });
  }

  private deliver(result: ResultMessage): void {
    if (this.send(result)) return;
    this.undelivered.set(result.directiveId, result);
    this.wentOffline();
  }

  /** Sends every finished long run the hub has not acknowledged yet. */
  private reportRuns(): void {
    if (!this.online) return;
    try {
      for (const message of this.runs.pendingCompletions()) {
        if (!this.send(message)) return this.wentOffline();
      }
    } catch (err) {
      this.log("warn", `cannot check long runs: ${(err as Error).message}`);
    }
  }

  private wentOffline(): void {
    this.online = false;
    if (this.recheck) clearInterval(this.recheck);
    this.recheck = null;
  }
}
