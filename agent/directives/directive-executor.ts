import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { actionTimeoutMs } from "../../protocol/action-timeouts.ts";
import { ActionCall, type ErrorCode } from "../../protocol/directives.ts";
import { DEFAULT_BASH_TIMEOUT_MS } from "../../protocol/limits.ts";
import type { DirectiveMessage, ResultMessage } from "../../protocol/node-messages.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import type { ActionContext, ActionOutcome } from "../actions/action-context.ts";
import { ActionError } from "../actions/action-error.ts";
import { findRipgrep } from "../actions/grep-ripgrep.ts";
import { performAction } from "../actions/perform-action.ts";
import { RunManager } from "../runs/run-manager.ts";
import type { ProcessSupervisor } from "../supervisor/process-supervisor.ts";
import { AGENT_VERSION } from "../connection/agent-version.ts";
import { DEFAULT_TEMP_ROOTS, defaultBinDirs, type HostEnvironment } from "../host/host-environment.ts";
import { PathGuard } from "../sandbox/path-guard.ts";
import type { DirectiveHandler, SendToHub } from "./directive-handler.ts";
import { DirectiveJournal } from "./directive-journal.ts";
import { DirectiveOutput } from "./directive-output.ts";
import type { Logger } from "../connection/logger.ts";
import { fitResultFrame } from "./result-frame.ts";

const DEFAULT_KILL_GRACE_MS = 2_000;
const DEFAULT_RUN_RECHECK_MS = 60_000;
/** The protocol allows 16 KiB of error text; a message is a sentence, not a log. */
const MAX_ERROR_CHARS = 8_000;

export interface DirectiveExecutorOptions {
  tier: CapabilityTier;
  sandboxRoot: string;
  /** Seen directive ids and long runs are kept here; without it they last only as long as the process. */
  stateDir?: string;
  log: Logger;
  /** Grace between SIGINT, SIGTERM and SIGKILL when stopping a process group. */
  killGraceMs?: number;
  /** How often unacknowledged run completions are sent again while connected. */
  runRecheckMs?: number;
  /** "auto" searches with ripgrep when it is on PATH; "builtin" always uses the JavaScript search. */
  grep?: "auto" | "builtin";
  /** The machine's process supervisor, for the `supervised.*` actions. */
  supervisor?: ProcessSupervisor;
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
  const parsed = ActionCall.safeParse({ action: directive.action, params: directive.params });
  if (!parsed.success) throw new ActionError("invalid_params", `invalid params for ${directive.action}:\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** The action's own time budget, or the directive's when that is sooner. */
function timeoutOf(call: ActionCall, directive: DirectiveMessage): number {
  const own = actionTimeoutMs(call) ?? DEFAULT_BASH_TIMEOUT_MS;
  return Math.min(own, directive.timeoutMs ?? own);
}

/**
 * Runs directives on this machine under the agent's capability tier: validates, checks the tier against real
 * paths, runs each action with streamed output, timeout and cancel, and answers every directive id exactly once.
 */
export class DirectiveExecutor implements DirectiveHandler {
  private send: SendToHub = () => false;
  private online = false;
  private recheck: NodeJS.Timeout | null = null;
  private readonly inFlight = new Map<string, InFlight>();
  /** Results finished while there was no connection, sent on the next one. */
  private readonly undelivered = new Map<string, ResultMessage>();
  private readonly journal: DirectiveJournal;
  private readonly guard: PathGuard;
  private readonly runs: RunManager;
  private readonly ripgrep: string | null;
  private readonly supervisor: ProcessSupervisor | null;
  private readonly killGraceMs: number;
  private readonly runRecheckMs: number;
  private readonly log: Logger;
  private readonly host: HostEnvironment;
  private connections = 0;
  private lastConnectedAt: number | null = null;

  constructor(options: DirectiveExecutorOptions) {
    if (options.stateDir) mkdirSync(options.stateDir, { recursive: true });
    this.log = options.log;
    this.killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.runRecheckMs = options.runRecheckMs ?? DEFAULT_RUN_RECHECK_MS;
    this.journal = new DirectiveJournal(options.stateDir ? join(options.stateDir, "directives.jsonl") : null, this.log);
    this.guard = new PathGuard(options.tier, options.sandboxRoot);
    this.runs = new RunManager(options.stateDir, this.killGraceMs, () => this.reportRuns());
    this.ripgrep = options.grep === "builtin" ? null : findRipgrep();
    this.supervisor = options.supervisor ?? null;
    const startedAt = Date.now() - Math.round(process.uptime() * 1000);
    this.host = {
      tier: options.tier,
      binDirs: options.binDirs ?? defaultBinDirs(),
      tempRoots: options.tempRoots ?? DEFAULT_TEMP_ROOTS,
      keep: [options.sandboxRoot, ...(options.stateDir ? [options.stateDir] : [])],
      agentStatus: () => ({
        version: AGENT_VERSION,
        pid: process.pid,
        startedAt,
        tier: options.tier,
        sandboxRoot: options.sandboxRoot,
        stateDir: options.stateDir ?? null,
        directivesInFlight: this.inFlight.size,
        runs: this.runs.summary(),
        connections: this.connections,
        lastConnectedAt: this.lastConnectedAt,
        ripgrep: this.ripgrep !== null,
      }),
    };
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
    this.journal.started(directiveId);
    const controller = new AbortController();
    const done = this.execute(directive, controller)
      .then((result) => {
        this.journal.finished(result);
        this.deliver(result);
      })
      .catch((err: unknown) => this.log("error", `directive ${directiveId}: ${String(err)}`))
      .finally(() => this.inFlight.delete(directiveId));
    this.inFlight.set(directiveId, { controller, done });
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
  }

  private async execute(directive: DirectiveMessage, controller: AbortController): Promise<ResultMessage> {
    const startedAt = Date.now();
    // Bash always streams; the hub decides whether anyone is listening.
    const streaming = directive.action === "bash" || directive.stream === true;
    const out = new DirectiveOutput(directive.id, streaming, (message) => this.send(message));
    let timer: NodeJS.Timeout | undefined;
    let outcome: ActionOutcome;
    try {
      const call = await this.guard.admit(parseCall(directive));
      const timeoutMs = timeoutOf(call, directive);
      timer = setTimeout(() => controller.abort(new ActionError("timeout", `timed out after ${timeoutMs} ms`)), timeoutMs);
      outcome = await performAction(call, await this.context(directive.id, call, controller.signal, out));
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

  private async context(directiveId: string, call: ActionCall, signal: AbortSignal, out: DirectiveOutput): Promise<ActionContext> {
    const reveals = call.action === "glob" || call.action === "grep" ? await this.guard.revealer(call) : () => true;
    return { directiveId, signal, out, reveals, runs: this.runs, killGraceMs: this.killGraceMs, ripgrep: this.ripgrep, host: this.host, supervisor: this.supervisor };
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
