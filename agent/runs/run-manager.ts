import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import type { RunCompleteMessage } from "../../protocol/node-messages.ts";
import { ActionError } from "../actions/action-error.ts";
import { isAlive } from "../actions/process-group.ts";
import type { ActionUser } from "../privilege/action-user.ts";
import { newTracking, terminateTracked } from "../processes/tracked-processes.ts";
import { identityOf, stillRunning } from "../supervisor/proc-info.ts";
import { RUN_ID, RunOutput, RunSpec, RunStatus, commandIdentity, readJson, runFiles, watcherIdentity, writeJsonAtomic } from "./run-files.ts";
import { STARTUP_TIMEOUT_MS, isWatcherArgv, startWatcher } from "./watcher-process.ts";

const POLL_MS = 25;
/** How often the watchers of runs started by an earlier agent process are looked at; they cannot call this one. */
const ADOPTED_POLL_MS = 1_000;
/** Finished, reported runs kept for `run.status`; older ones are deleted. */
const KEEP_FINISHED_RUNS = 100;
const MAX_REASON_CHARS = 4_096;

export interface RunIdentity {
  user: ActionUser;
  /** Where run cgroups are created, or null (see agent/processes/cgroup.ts). */
  cgroupParent: string | null;
}

export interface RunView {
  status: RunStatus;
  tail: string;
}

function newRunId(): string {
  return `run-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
}

function isFinished(status: RunStatus): boolean {
  return status.state !== "running";
}

/** Whether the process under `pid` is the agent's own user running the watcher of the run in `dir`. */
function isWatcherOf(pid: number, dir: string): boolean {
  try {
    // Anyone can start a process with these arguments; a watcher runs as the agent's own user.
    if (statSync(`/proc/${pid}`).uid !== process.getuid?.()) return false;
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").split("\0");
    return isWatcherArgv(argv) && argv.includes(dir);
  } catch {
    return false;
  }
}

/**
 * Whether the run's watcher is still running. A bare PID does not say: after a reboot, or once the watcher ended, the
 * number may belong to any process, and the run would read as running forever and never be reported lost.
 */
function watcherRunning(dir: string, status: RunStatus): boolean {
  if (status.watcherPid === null) return false;
  const recorded = watcherIdentity(status);
  if (recorded) return stillRunning(recorded);
  // No /proc here (macOS, Windows): no watcher could have recorded an identity, and there is none to check against.
  if (identityOf(process.pid) === null) return isAlive(status.watcherPid);
  // A watcher of an agent from before identities were recorded: it outlives an upgrade, and keeps rewriting its
  // status as running, so calling it lost would report it lost again at every write and leave it uncancellable.
  // Its command line naming this run is evidence enough to keep reading it as running: that decides no signal,
  // because `cancel` signals only a session whose identity was recorded and verified.
  return isAlive(status.watcherPid) && isWatcherOf(status.watcherPid, dir);
}

/**
 * The agent's side of long runs: starts a watcher per run, reads what the watchers record, notices
 * watchers that died, and lists finished runs the hub has not yet acknowledged.
 */
export class RunManager {
  private readonly root: string | null;
  /** Runs whose watcher this agent process started: their exit is announced by `onWatcherExit`. */
  private readonly ownRuns = new Set<string>();
  private adoptedTimer: NodeJS.Timeout | null = null;

  constructor(
    stateDir: string | undefined,
    private readonly killGraceMs: number,
    /** Called when a watcher started by this agent exits, so its completion can be reported at once. */
    private readonly onWatcherExit: () => void,
    private readonly identity: RunIdentity,
  ) {
    this.root = stateDir ? join(stateDir, "runs") : null;
  }

  /** Starts a run in `cwd` (already checked by the caller's policy). */
  async launch(params: ActionParams<"run.launch">, cwd: string, directiveId: string): Promise<RunView> {
    const root = this.requireRoot();
    const runId = newRunId();
    const dir = join(root, runId);
    const files = runFiles(dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const spec: RunSpec = {
      runId,
      directiveId,
      ...(params.name !== undefined && { name: params.name }),
      command: params.command,
      cwd,
      stallTimeoutMs: params.stallTimeoutMs,
      killGraceMs: this.killGraceMs,
      createdAt: Date.now(),
      user: this.identity.user,
      tracking: newTracking(this.identity.cgroupParent, "r"),
    };
    writeJsonAtomic(files.spec, spec);

    try {
      this.ownRuns.add(runId);
      return { status: await startWatcher(dir, this.onWatcherExit), tail: "" };
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  status(runId: string): RunView {
    const { dir, spec } = this.open(runId);
    return this.view(dir, spec);
  }

  /** Stops every process of the run (even those that left its process group) and waits for its watcher to record the ending. */
  async cancel(runId: string): Promise<RunView> {
    const { dir, spec } = this.open(runId);
    const files = runFiles(dir);
    let view = this.view(dir, spec);
    if (isFinished(view.status)) return view;
    writeFileSync(files.cancelRequested, "");
    const recorded = readJson(files.status, RunStatus);
    const command = recorded && commandIdentity(recorded);
    // The session is named by the command's PID, and signalling it (as root, perhaps) reaches every process in any
    // session of that number: only one verified to be the run's own command. The marker and cgroup are unique to the
    // run, so they still reach its processes when the command's identity is unknown or it has ended.
    const sessions = new Set(command && stillRunning(command) ? [command.pid] : []);
    await terminateTracked(spec.tracking, this.killGraceMs, sessions);
    const deadline = Date.now() + this.killGraceMs * 3 + 5_000;
    while (!isFinished(view.status) && Date.now() < deadline) {
      await sleep(POLL_MS);
      view = this.view(dir, spec);
    }
    return view;
  }

  /** Every finished run whose completion the hub has not acknowledged, oldest first. */
  pendingCompletions(): RunCompleteMessage[] {
    if (!this.root || !existsSync(this.root)) return [];
    const messages: RunCompleteMessage[] = [];
    for (const runId of readdirSync(this.root).filter((name) => RUN_ID.test(name)).sort()) {
      const dir = join(this.root, runId);
      const files = runFiles(dir);
      const spec = readJson(files.spec, RunSpec);
      if (!spec) continue;
      const status = this.settle(dir, spec);
      if (status.state === "running" || !existsSync(files.callbackPending)) continue;
      messages.push({
        type: "run_complete",
        runId,
        directiveId: spec.directiveId,
        state: status.state,
        exitCode: status.exitCode,
        ...(status.reason !== undefined && { reason: status.reason.slice(0, MAX_REASON_CHARS) }),
        outputTail: readJson(files.output, RunOutput)?.tail ?? "",
        startedAt: status.startedAt,
        endedAt: status.endedAt ?? status.startedAt,
      });
    }
    return messages;
  }

  /**
   * Watches the runs an earlier agent process started (this one was restarted while they ran): their watchers exit
   * unseen, so they are polled, and `onWatcherExit` is called as soon as one is gone, not at the next recheck.
   */
  watchAdopted(): void {
    if (this.adoptedTimer || !this.root) return;
    let watched = new Set<string>();
    const tick = () => {
      const adopted = this.runningStatuses().filter(({ status }) => !this.ownRuns.has(status.runId));
      const alive = new Set(adopted.filter(({ dir, status }) => watcherRunning(dir, status)).map(({ status }) => status.runId));
      // A run seen going last time that is not going now has ended (or lost its watcher): report it now.
      if ([...watched].some((runId) => !alive.has(runId)) || alive.size < adopted.length) this.onWatcherExit();
      watched = alive;
      if (adopted.length === 0) this.close();
    };
    tick();
    if (watched.size === 0) return;
    this.adoptedTimer = setInterval(tick, ADOPTED_POLL_MS);
    this.adoptedTimer.unref();
  }

  /** Stops watching adopted runs (the agent is shutting down). */
  close(): void {
    if (this.adoptedTimer) clearInterval(this.adoptedTimer);
    this.adoptedTimer = null;
  }

  private runningStatuses(): { dir: string; status: RunStatus }[] {
    const root = this.root;
    if (!root || !existsSync(root)) return [];
    return readdirSync(root)
      .filter((name) => RUN_ID.test(name))
      .map((runId) => ({ dir: join(root, runId), status: readJson(runFiles(join(root, runId)).status, RunStatus) }))
      .filter((run): run is { dir: string; status: RunStatus } => run.status?.state === "running");
  }

  /** How many runs are going and how many finished ones the hub has not acknowledged, for `agent.health`. */
  summary(): { running: number; awaitingReport: number } {
    if (!this.root || !existsSync(this.root)) return { running: 0, awaitingReport: 0 };
    let running = 0;
    let awaitingReport = 0;
    for (const runId of readdirSync(this.root).filter((name) => RUN_ID.test(name))) {
      const files = runFiles(join(this.root, runId));
      const state = readJson(files.status, RunStatus)?.state;
      if (state === "running") running++;
      else if (existsSync(files.callbackPending)) awaitingReport++;
    }
    return { running, awaitingReport };
  }

  /** The hub has recorded the run's completion: never report it again. */
  acknowledge(runId: string): void {
    if (!this.root || !RUN_ID.test(runId)) return;
    rmSync(runFiles(join(this.root, runId)).callbackPending, { force: true });
    this.pruneFinished();
  }

  private requireRoot(): string {
    if (!this.root) throw new ActionError("exec_failed", "long runs need a state directory: start the agent with --state-dir");
    return this.root;
  }

  private open(runId: string): { dir: string; spec: RunSpec } {
    const dir = join(this.requireRoot(), runId);
    const spec = RUN_ID.test(runId) ? readJson(runFiles(dir).spec, RunSpec) : null;
    if (!spec) throw new ActionError("not_found", `no run ${runId} on this node`);
    return { dir, spec };
  }

  private view(dir: string, spec: RunSpec): RunView {
    const status = this.settle(dir, spec);
    const tail = readJson(runFiles(dir).output, RunOutput)?.tail ?? "";
    return { status, tail };
  }

  /** The run's status, turned to `lost` (and reported) when its watcher is gone without recording an ending. */
  private settle(dir: string, spec: RunSpec): RunStatus {
    const files = runFiles(dir);
    const status = readJson(files.status, RunStatus);
    if (status && (isFinished(status) || watcherRunning(dir, status))) return status;
    const starting: RunStatus = {
      runId: spec.runId,
      state: "running",
      watcherPid: null,
      pid: null,
      startedAt: spec.createdAt,
      endedAt: null,
      lastOutputAt: null,
      exitCode: null,
      outputBytes: 0,
    };
    if (!status && Date.now() - spec.createdAt < STARTUP_TIMEOUT_MS) return starting;
    // A watcher records its ending before it exits: read again so a run that just ended is not called lost.
    const latest = readJson(files.status, RunStatus);
    if (latest && isFinished(latest)) return latest;
    const lost: RunStatus = {
      ...(latest ?? starting),
      state: "lost",
      endedAt: Date.now(),
      reason: latest ? "the run's watcher process is gone" : "the run's watcher never started",
    };
    writeJsonAtomic(files.status, lost);
    writeFileSync(files.callbackPending, "");
    return lost;
  }

  private pruneFinished(): void {
    const root = this.requireRoot();
    const finished = readdirSync(root)
      .filter((name) => RUN_ID.test(name))
      .map((runId) => ({ dir: join(root, runId), status: readJson(runFiles(join(root, runId)).status, RunStatus) }))
      .filter(({ dir, status }) => status && isFinished(status) && !existsSync(runFiles(dir).callbackPending))
      .sort((a, b) => (b.status?.endedAt ?? 0) - (a.status?.endedAt ?? 0));
    for (const { dir } of finished.slice(KEEP_FINISHED_RUNS)) rmSync(dir, { recursive: true, force: true });
  }
}
