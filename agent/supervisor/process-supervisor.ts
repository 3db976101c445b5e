import { createHash, randomUUID } from "node:crypto";
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import type { NodeToHubMessage } from "../../protocol/node-messages.ts";
import {
  COMMAND_FIELDS,
  MAX_EVENTS_PER_FRAME,
  ProcessSpec,
  RELAUNCH_CEILING,
  type ProcessConfig,
  type ProcessEvent,
  type ProcessEventKind,
  type ProcessExit,
  type ProcessState,
  type ProcessStatus,
  type SupervisionStatus,
} from "../../protocol/processes.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { errorText, type Logger } from "../connection/logger.ts";
import { EventQueue } from "./event-queue.ts";
import { currentUser, type ActionUser } from "../privilege/action-user.ts";
import { killTracked, newTracking, signalAll, type ProcessTracking, type TrackedSet } from "../processes/tracked-processes.ts";
import { admit, spawnProcess, type LaunchContext } from "./launch.ts";
import { bootId, groupExists, identityOf, instanceUsage, INSTANCE_VARIABLE, instanceMembers, stillRunning, TICKS_PER_SECOND, type ProcessIdentity } from "./proc-info.ts";
import { removeLogs, rotateIfFull, tailLines } from "./process-log.ts";
import { nextScheduleChange, machineTimeZone, withinSchedule } from "./schedule.ts";
import { loadConfig, loadState, saveConfig, saveState, supervisorFiles, type SavedProcess, type SavedState } from "./supervisor-files.ts";

export interface SupervisorOptions {
  /** The supervisor's own folder (configuration, state, queued events, logs). */
  dir: string;
  tier: CapabilityTier;
  sandboxRoot: string;
  log: Logger;
  now?: () => number;
  /** The zone schedules are read in; the machine's own by default. */
  timeZone?: string;
  /** The longest the supervisor sleeps between two looks at its processes. */
  tickMs?: number;
  /** While connected, events the hub has not acknowledged are sent again this often. */
  resendMs?: number;
  /** The node's action user, whom processes run as; the agent's own user when absent. */
  user?: ActionUser;
  /** Where each instance gets a cgroup of its own (as directives do); null or absent: its marker and descendants. */
  cgroupParent?: string | null;
}

type Cause = NonNullable<ProcessEvent["cause"]>;
type Send = (message: NodeToHubMessage) => boolean;

/** How a start, stop or restart asked through the hub went. */
export interface ControlOutcome {
  ok: boolean;
  message: string;
  status: ProcessStatus;
}

interface Stopping {
  cause: Cause;
  done: Promise<void>;
  resolve: () => void;
  killTimer: NodeJS.Timeout | null;
}

/** One configured process and what runs of it. */
interface Runtime {
  name: string;
  spec: ProcessSpec;
  /** Set when this agent spawned the running instance (its exit is reported to us); null for an adopted one. */
  child: ChildProcess | null;
  identity: ProcessIdentity | null;
  /** The command key of the running instance; null when unknown (adopted from an agent that did not record it). */
  launched: string | null;
  /** Every process of the running instance; null for one an older agent started (its process group is all we know). */
  tracking: ProcessTracking | null;
  /** Killing what the last instance left behind; a new instance waits for it, so it finds ports and files free. */
  leftovers: Promise<void> | null;
  startedAt: number | null;
  counted: boolean;
  relaunch: boolean;
  held: "running" | "stopped" | null;
  gaveUp: boolean;
  attempts: number[];
  restarts: number;
  lastExit: ProcessExit | null;
  nextStartAt: number | null;
  startCause: Cause;
  stopping: Stopping | null;
  refused: string | null;
  /** An operation in flight (a launch, a stop by hand), so that operations on one process never interleave. */
  busy: Promise<unknown> | null;
  /** The launch mode's answer at the last look, to notice a schedule window opening or closing. */
  lastByMode: boolean | null;
  /** Removed from the configuration: it goes once its instance has stopped. */
  removed: boolean;
  cpuSample: { ticks: number; at: number } | null;
}

const DEFAULT_TICK_MS = 1_000;
const DEFAULT_RESEND_MS = 30_000;
/** How often an adopted process being stopped is looked at: we are not its parent, so no exit event reaches us. */
const ADOPTED_STOP_POLL_MS = 100;

/** What decides what runs, as one string: an instance started from another one is replaced. */
function commandKey(spec: ProcessSpec): string {
  // Hashed: the state file need not hold a second copy of the environment's values.
  return createHash("sha256").update(JSON.stringify(COMMAND_FIELDS.map((field) => spec[field] ?? null))).digest("hex");
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The process left its group (setsid) or the group is gone: signal the process itself.
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

function exitText(exit: { code: number | null; signal: string | null }): string {
  if (exit.signal) return `killed by ${exit.signal}`;
  return exit.code === null ? "exit status unknown" : `exit code ${exit.code}`;
}

/**
 * Keeps the machine's configured processes running: starts each when its launch mode says so (after its start delay),
 * relaunches it with backoff after an exit nobody asked for and gives up after too many attempts, stops it when asked
 * or when its schedule window closes, and reports every such event to the hub, queued on disk until acknowledged.
 *
 * The processes do not depend on the agent: they run detached in their own process groups, writing to their log
 * files, and the supervisor's state on disk names each by PID and start time, so an agent that restarts adopts the
 * ones still running instead of starting them twice, and starts the ones that are missing.
 */
export class ProcessSupervisor {
  private readonly files: ReturnType<typeof supervisorFiles>;
  private readonly queue: EventQueue;
  private readonly runtimes = new Map<string, Runtime>();
  private readonly launchCtx: LaunchContext;
  private readonly now: () => number;
  private readonly tickMs: number;
  private readonly resendMs: number;
  private zone: string | undefined;
  private config: ProcessConfig | null = null;
  private send: Send | null = null;
  /** False once a send failed, until the next registered connection: no point reading the queue for nobody. */
  private online = false;
  private wake: NodeJS.Timeout | null = null;
  private resend: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    this.files = supervisorFiles(options.dir);
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    mkdirSync(this.files.logs, { recursive: true, mode: 0o700 });
    this.queue = new EventQueue(this.files.events, options.log);
    this.now = options.now ?? Date.now;
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.resendMs = options.resendMs ?? DEFAULT_RESEND_MS;
    this.launchCtx = { tier: options.tier, sandboxRoot: options.sandboxRoot, logDir: this.files.logs, user: options.user ?? currentUser() };
  }

  /** Loads the last configuration and state from disk, adopts what still runs, and starts supervising. */
  start(): void {
    this.config = loadConfig(this.options.dir);
    const saved = loadState(this.options.dir);
    for (const spec of this.config?.processes ?? []) this.runtimes.set(spec.name, this.restore(spec, saved[spec.name]));
    // An instance still running for a process no longer configured (removed while the change was being applied) is
    // stopped, with the default stop signal and grace since its configuration is gone.
    for (const [name, entry] of Object.entries(saved)) {
      if (this.runtimes.has(name) || !entry.identity) continue;
      if (!stillRunning(entry.identity)) {
        // Its main process ended while no agent watched; what it started outside its group may not have.
        if (entry.tracking) void killTracked(entry.tracking, new Set(), new Set(), INSTANCE_VARIABLE).catch(() => undefined);
        continue;
      }
      const orphan = this.restore(ProcessSpec.parse({ name, command: "/bin/false", launchMode: "off" }), entry);
      orphan.removed = true;
      this.runtimes.set(name, orphan);
      void this.stopInstance(orphan, "config").then(() => this.forget(orphan));
    }
    const adopted = [...this.runtimes.values()].filter((rt) => rt.identity && stillRunning(rt.identity));
    if (adopted.length) this.options.log("info", `supervisor: adopted ${adopted.map((rt) => `${rt.name} (pid ${rt.identity!.pid})`).join(", ")}`);
    this.save();
    this.tick();
  }

  /** Stops looking after the processes (the agent is stopping); they go on running and are adopted next time. */
  close(): void {
    this.closed = true;
    if (this.wake) clearTimeout(this.wake);
    if (this.resend) clearInterval(this.resend);
    this.wake = null;
    this.resend = null;
    for (const rt of this.runtimes.values()) if (rt.stopping?.killTimer) clearTimeout(rt.stopping.killTimer);
  }

  /**
   * The zone schedules are read in. Looked up on first need: reading it loads the ICU time zone data, about 6 MiB of
   * resident memory that an agent supervising nothing never needs.
   */
  get timeZone(): string {
    this.zone ??= this.options.timeZone ?? machineTimeZone();
    return this.zone;
  }

  /** The version of the configuration in force, or null before the hub ever sent one. */
  get configVersion(): number | null {
    return this.config?.version ?? null;
  }

  // ---- the hub ----

  /**
   * Takes a new list from the hub. A list no newer than the one in force is ignored, so a stale update can never undo
   * a newer one. Returns whether it was applied.
   */
  applyConfig(config: ProcessConfig): boolean {
    if (this.config && config.version <= this.config.version) {
      this.options.log("info", `supervisor: ignored process list version ${config.version}; version ${this.config.version} is in force`);
      return false;
    }
    saveConfig(this.options.dir, config);
    this.config = config;
    const names = new Set(config.processes.map((p) => p.name));
    for (const rt of this.runtimes.values()) {
      if (names.has(rt.name) || rt.removed) continue;
      rt.removed = true;
      // A launch in flight finishes first, so the instance it starts is stopped too rather than left unsupervised.
      // Added back meanwhile, it stays.
      void this.settle(rt)
        .then(() => (rt.removed ? this.stopInstance(rt, "config") : undefined))
        .then(() => this.forget(rt));
    }
    for (const spec of config.processes) {
      const rt = this.runtimes.get(spec.name);
      if (!rt) {
        this.runtimes.set(spec.name, this.fresh(spec));
        continue;
      }
      if (JSON.stringify(rt.spec) === JSON.stringify(spec) && !rt.removed) continue;
      // A running instance whose command changed is replaced by the next look at it (reconcile).
      Object.assign(rt, { spec, removed: false, held: null, gaveUp: false, attempts: [], refused: null, nextStartAt: null, startCause: "config" satisfies Cause });
    }
    this.options.log("info", `supervisor: process list version ${config.version} in force (${config.processes.length} process(es))`);
    this.save();
    this.tick();
    return true;
  }

  /** A registered connection: send every event the hub has not acknowledged, and again now and then. */
  connected(send: Send): void {
    this.send = send;
    this.online = true;
    this.flush();
    if (!this.resend && !this.closed) {
      this.resend = setInterval(() => this.flush(), this.resendMs);
      this.resend.unref();
    }
  }

  acknowledged(ids: readonly string[]): void {
    this.queue.acknowledge(ids);
  }

  /** Events waiting for the hub's acknowledgement. */
  get queuedEvents(): number {
    return this.queue.size;
  }

  /** What heartbeats carry: each process's state and usage (CPU since the previous report). */
  status(): SupervisionStatus {
    const now = this.now();
    const running = new Map<Runtime, TrackedSet>();
    for (const rt of this.runtimes.values()) if (rt.identity && !rt.removed) running.set(rt, this.trackedSet(rt, rt.identity));
    const usage = instanceUsage(running);
    const processes = [...this.runtimes.values()]
      .filter((rt) => !rt.removed)
      .map((rt) => {
        const sum = usage.get(rt);
        let cpuPercent: number | null = null;
        if (sum && rt.cpuSample && now > rt.cpuSample.at) {
          cpuPercent = Math.max(0, ((sum.cpuTicks - rt.cpuSample.ticks) / TICKS_PER_SECOND / ((now - rt.cpuSample.at) / 1000)) * 100);
          cpuPercent = Math.round(cpuPercent * 10) / 10;
        }
        rt.cpuSample = sum ? { ticks: sum.cpuTicks, at: now } : null;
        return { ...this.describe(rt), cpuPercent, memoryBytes: sum ? sum.rssBytes : null };
      });
    return { configVersion: this.configVersion, timeZone: this.timeZone, processes };
  }

  // ---- by hand (directives) ----

  /** Starts the process now (no start delay), and keeps it running until stopped, whatever its launch mode says. */
  async startByHand(name: string): Promise<ControlOutcome> {
    const rt = this.require(name);
    await this.settle(rt);
    this.clearFailures(rt);
    rt.held = this.modeWants(rt) ? null : "running";
    if (rt.identity) {
      this.save();
      return this.outcome(rt, true, `${name} is already running (pid ${rt.identity.pid})`);
    }
    rt.startCause = "request";
    await this.launch(rt);
    return this.launchOutcome(rt, "started");
  }

  /** Stops the process and keeps it stopped until started again, whatever its launch mode says. */
  async stopByHand(name: string): Promise<ControlOutcome> {
    const rt = this.require(name);
    await this.settle(rt);
    rt.held = this.modeWants(rt) ? "stopped" : null;
    rt.nextStartAt = null;
    if (!rt.identity) {
      this.save();
      return this.outcome(rt, true, `${name} is not running`);
    }
    const pid = rt.identity.pid;
    await this.stopInstance(rt, "request");
    return this.outcome(rt, true, `stopped ${name} (pid ${pid}, ${exitText(rt.lastExit ?? { code: null, signal: null })})`);
  }

  /** Stops the running instance, if any, and starts a new one at once. */
  async restartByHand(name: string): Promise<ControlOutcome> {
    const rt = this.require(name);
    await this.settle(rt);
    this.clearFailures(rt);
    rt.held = this.modeWants(rt) ? null : "running";
    if (rt.identity) {
      rt.relaunch = true;
      await this.stopInstance(rt, "request");
    }
    rt.startCause = "request";
    await this.launch(rt);
    return this.launchOutcome(rt, "restarted");
  }

  logs(name: string, lines: number): string {
    this.require(name);
    return tailLines(this.files.logs, name, lines);
  }

  // ---- the loop ----

  /** Looks at every process once and acts; then sleeps until something is due. Public so tests can drive a fake clock. */
  tick(): void {
    if (this.closed) return;
    if (this.wake) clearTimeout(this.wake);
    this.wake = null;
    for (const rt of [...this.runtimes.values()]) {
      try {
        this.reconcile(rt);
      } catch (err) {
        this.options.log("error", `supervisor: ${rt.name}: ${errorText(err)}`);
      }
    }
    // Nothing to look after: the next configuration from the hub calls tick() again, so sleeping costs nothing.
    if (this.runtimes.size === 0) return;
    const now = this.now();
    const due = this.nextDue(now);
    const delay = Math.max(0, Math.min(this.tickMs, due === null ? this.tickMs : due - now));
    this.wake = setTimeout(() => this.tick(), delay);
    this.wake.unref();
  }

  private reconcile(rt: Runtime): void {
    if (rt.busy || rt.leftovers) return;
    const now = this.now();
    const byMode = rt.removed ? false : this.modeWants(rt);
    if (rt.lastByMode !== null && byMode !== rt.lastByMode) {
      // The mode changed its mind (a window opened or closed): a hold that now agrees with it has done its job, and a
      // window that opens is a fresh start.
      if (rt.held !== null && (rt.held === "running") === byMode) rt.held = null;
      if (byMode) {
        this.clearFailures(rt);
        rt.startCause = "schedule";
      }
    }
    rt.lastByMode = byMode;
    const wanted = !rt.removed && (rt.held !== null ? rt.held === "running" : byMode);

    if (rt.identity) {
      if (!rt.child && !stillRunning(rt.identity)) return this.exited(rt, null, null, true);
      if (wanted && !rt.stopping && rt.launched !== null && rt.launched !== commandKey(rt.spec)) {
        rt.relaunch = true;
        void this.stopInstance(rt, "config");
        return;
      }
      this.countIfDue(rt, now);
      if (!wanted && !rt.stopping) void this.stopInstance(rt, rt.held === "stopped" ? "request" : rt.spec.launchMode === "scheduled" ? "schedule" : "config");
      void rotateIfFull(this.files.logs, rt.name, rt.spec.log).catch((err: unknown) => this.options.log("error", `supervisor: ${rt.name}: rotating its log: ${errorText(err)}`));
      return;
    }
    if (!wanted || rt.gaveUp || rt.refused !== null) {
      rt.nextStartAt = null;
      return;
    }
    if (rt.nextStartAt === null) rt.nextStartAt = now + rt.spec.startDelaySeconds * 1000;
    if (now >= rt.nextStartAt) void this.launch(rt);
  }

  /** Once an instance has stayed up for its startup time, it counts as started: say so. */
  private countIfDue(rt: Runtime, now: number): void {
    if (rt.counted || !rt.identity || rt.startedAt === null || now - rt.startedAt < rt.spec.startupSeconds * 1000) return;
    rt.counted = true;
    const kind: ProcessEventKind = rt.relaunch ? "restarted" : "started";
    rt.relaunch = false;
    this.emit(rt, kind, { pid: rt.identity.pid, ...(kind === "started" ? { cause: rt.startCause } : {}) });
    this.save();
  }

  private nextDue(now: number): number | null {
    let due: number | null = null;
    const consider = (t: number | null) => {
      if (t !== null && (due === null || t < due)) due = t;
    };
    for (const rt of this.runtimes.values()) {
      if (rt.busy || rt.leftovers) continue;
      if (rt.identity && !rt.counted && rt.startedAt !== null) consider(rt.startedAt + rt.spec.startupSeconds * 1000);
      if (!rt.identity) consider(rt.nextStartAt);
      if (rt.spec.launchMode === "scheduled") consider(nextScheduleChange(rt.spec.schedule, now, this.timeZone));
    }
    return due;
  }

  private modeWants(rt: Runtime): boolean {
    switch (rt.spec.launchMode) {
      case "off":
        return false;
      case "always":
        return true;
      case "scheduled":
        return withinSchedule(rt.spec.schedule, this.now(), this.timeZone);
    }
  }

  // ---- starting and stopping ----

  private launch(rt: Runtime): Promise<void> {
    const work = this.launchNow(rt)
      .catch((err: unknown) => this.options.log("error", `supervisor: starting ${rt.name}: ${errorText(err)}`))
      .finally(() => {
        if (rt.busy === work) rt.busy = null;
        this.tick();
      });
    rt.busy = work;
    return work;
  }

  private async launchNow(rt: Runtime): Promise<void> {
    rt.nextStartAt = null;
    if (rt.leftovers) await rt.leftovers;
    const admission = await admit(rt.spec, this.launchCtx);
    if (!admission.ok && admission.refused) {
      rt.refused = admission.reason;
      this.emit(rt, "start_failed", { reason: `refused: ${admission.reason}` });
      this.save();
      return;
    }
    const tracking = newTracking(this.options.cgroupParent ?? null, "s");
    const spawned = admission.ok ? await spawnProcess(rt.name, rt.spec, admission.plan, this.launchCtx, tracking) : { ok: false as const, reason: admission.reason };
    const now = this.now();
    if (!spawned.ok) {
      rt.lastExit = { at: now, kind: "start_failed", code: null, signal: null };
      this.afterUnaskedExit(rt, "start_failed", { reason: spawned.reason });
      this.save();
      return;
    }
    const { child } = spawned;
    rt.child = child;
    rt.identity = identityOf(child.pid) ?? { pid: child.pid, startTicks: 0, bootId: bootId() };
    rt.launched = commandKey(rt.spec);
    rt.tracking = tracking;
    rt.startedAt = now;
    rt.counted = false;
    if (rt.relaunch) rt.restarts += 1;
    child.once("exit", (code, signal) => {
      if (rt.child === child) this.exited(rt, code, signal, false);
    });
    this.save();
    this.countIfDue(rt, now);
  }

  /**
   * Sends a signal to the instance's process group and to every other process of its tracked set (what left the group
   * with setsid). The group only while its leader is the instance itself: an ended adopted one's PID may be reused.
   */
  private signalInstance(rt: Runtime, identity: ProcessIdentity, signal: NodeJS.Signals): void {
    const set = this.trackedSet(rt, identity);
    if (set.sessions.has(identity.pid)) signalGroup(identity.pid, signal);
    if (set.tracking) signalAll(instanceMembers(set.tracking, set.sessions), signal);
  }

  /**
   * Where the instance's processes are: its tracking, and its session (the main process leads it) while the main
   * process is still the instance's own; an ended adopted one's PID may already lead someone else's session.
   */
  private trackedSet(rt: Runtime, identity: ProcessIdentity): TrackedSet {
    const ours = rt.child !== null || stillRunning(identity);
    return { tracking: rt.tracking, sessions: ours ? new Set([identity.pid]) : new Set() };
  }

  /** Sends the stop signal to every process of the instance, SIGKILL after the grace period; resolves once it is gone. */
  private stopInstance(rt: Runtime, cause: Cause): Promise<void> {
    if (rt.stopping) return rt.stopping.done;
    const identity = rt.identity;
    if (!identity) return Promise.resolve();
    if (!rt.child && !stillRunning(identity)) {
      this.exited(rt, null, null, true);
      return Promise.resolve();
    }
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const stopping: Stopping = { cause, done, resolve, killTimer: null };
    rt.stopping = stopping;
    this.signalInstance(rt, identity, rt.spec.stopSignal);
    stopping.killTimer = setTimeout(() => {
      if (rt.stopping === stopping && rt.identity === identity && (rt.child || stillRunning(identity))) this.signalInstance(rt, identity, "SIGKILL");
    }, rt.spec.stopGraceSeconds * 1000);
    if (!rt.child) {
      const poll = setInterval(() => {
        if (rt.stopping !== stopping) return clearInterval(poll);
        if (!stillRunning(identity)) {
          clearInterval(poll);
          this.exited(rt, null, null, true);
        }
      }, ADOPTED_STOP_POLL_MS);
    }
    return done;
  }

  /** The running instance ended: says how, and decides whether to relaunch it. */
  private exited(rt: Runtime, code: number | null, signal: NodeJS.Signals | null, unknownStatus: boolean): void {
    const identity = rt.identity;
    // Once closed, the next agent's supervisor finds out from its state file (an exit of unknown status).
    if (!identity || this.closed) return;
    const now = this.now();
    const uptimeMs = rt.startedAt === null ? 0 : Math.max(0, now - rt.startedAt);
    const tracking = rt.tracking;
    rt.child = null;
    rt.identity = null;
    rt.launched = null;
    rt.tracking = null;
    rt.cpuSample = null;
    // Whatever the main process left behind in its group goes with it, so a relaunch finds its ports and files free.
    // Only for a child of ours: its PID stays reserved while its group has members. An adopted instance's PID may
    // already name someone else's process, which must never be signalled.
    if (!unknownStatus && groupExists(identity.pid)) signalGroup(identity.pid, "SIGKILL");
    // So does what it started outside its group (setsid), found by its cgroup or marker, which name nobody else's.
    if (tracking) {
      const cleared: Promise<void> = killTracked(tracking, unknownStatus ? new Set() : new Set([identity.pid]), new Set(), INSTANCE_VARIABLE)
        .catch((err: unknown) => this.options.log("error", `supervisor: ${rt.name}: killing what its instance left running: ${errorText(err)}`))
        .then(() => {
          if (rt.leftovers === cleared) rt.leftovers = null;
        });
      rt.leftovers = cleared;
    }
    // Once nothing of the instance is left: the next look may start another one, and a stop is done.
    const afterLeftovers = (then: () => void) => (rt.leftovers ? void rt.leftovers.then(then) : then());
    const stopping = rt.stopping;
    const base = { pid: identity.pid, exitCode: code, signal, uptimeMs, ...(unknownStatus ? { reason: "exit status unknown: the agent restarted since it started this instance" } : {}) };
    if (stopping) {
      if (stopping.killTimer) clearTimeout(stopping.killTimer);
      rt.stopping = null;
      rt.lastExit = { at: now, kind: "stopped", code, signal };
      this.emit(rt, "stopped", { ...base, cause: stopping.cause });
      this.save();
      afterLeftovers(() => {
        stopping.resolve();
        this.soon();
      });
      return;
    }
    const kind = !rt.counted ? "start_failed" : code === 0 && !signal && !unknownStatus ? "exited" : "crashed";
    rt.lastExit = { at: now, kind, code, signal };
    const early = kind === "start_failed" ? { reason: `ended after ${(uptimeMs / 1000).toFixed(1)} s, before its startup time of ${rt.spec.startupSeconds} s (${exitText({ code, signal })})` } : {};
    this.afterUnaskedExit(rt, kind, { ...base, ...early });
    this.save();
    afterLeftovers(() => this.soon());
  }

  /** A look at every process right after the current one ends, never inside it. */
  private soon(): void {
    queueMicrotask(() => this.tick());
  }

  /** After an exit nobody asked for: relaunch with backoff while attempts remain in the window, else give up. */
  private afterUnaskedExit(rt: Runtime, kind: "exited" | "crashed" | "start_failed", details: Partial<ProcessEvent>): void {
    const now = this.now();
    const wanted = !rt.removed && (rt.held !== null ? rt.held === "running" : this.modeWants(rt));
    if (!wanted) {
      this.emit(rt, kind, details);
      return;
    }
    const { maxAttempts, windowSeconds, backoffSeconds, maxBackoffSeconds } = rt.spec.restart;
    const windowMs = windowSeconds * 1000;
    rt.attempts = rt.attempts.filter((t) => now - t < Math.max(windowMs, RELAUNCH_CEILING.withinMs));
    const inWindow = rt.attempts.filter((t) => now - t < windowMs).length;
    const recent = rt.attempts.filter((t) => now - t < RELAUNCH_CEILING.withinMs).length;
    if (inWindow >= maxAttempts || recent >= RELAUNCH_CEILING.count) {
      this.emit(rt, kind, { ...details, maxAttempts });
      rt.gaveUp = true;
      rt.nextStartAt = null;
      const why =
        inWindow >= maxAttempts
          ? `${inWindow} relaunch(es) within ${windowSeconds} s, the most allowed`
          : `${recent} relaunches within ${RELAUNCH_CEILING.withinMs / 1000} s, the most the agent allows whatever the policy`;
      this.emit(rt, "gave_up", { maxAttempts, reason: `${why}; start it again by hand` });
      return;
    }
    const retryInMs = Math.min(backoffSeconds * 2 ** inWindow, maxBackoffSeconds) * 1000;
    rt.attempts.push(now);
    rt.relaunch = true;
    rt.nextStartAt = now + retryInMs;
    this.emit(rt, kind, { ...details, attempt: rt.attempts.length, maxAttempts, retryInMs });
  }

  // ---- helpers ----

  private require(name: string): Runtime {
    const rt = this.runtimes.get(name);
    if (!rt || rt.removed) throw new UnknownProcess(name);
    return rt;
  }

  /** Waits for whatever is in flight on the process (a launch, a stop). */
  private async settle(rt: Runtime): Promise<void> {
    while (rt.busy) await rt.busy;
    if (rt.stopping) await rt.stopping.done;
  }

  private clearFailures(rt: Runtime): void {
    rt.gaveUp = false;
    rt.attempts = [];
    rt.refused = null;
  }

  private async launchOutcome(rt: Runtime, verb: string): Promise<ControlOutcome> {
    if (rt.identity) return this.outcome(rt, true, `${verb} ${rt.name} (pid ${rt.identity.pid})`);
    return this.outcome(rt, false, `could not start ${rt.name}: ${rt.refused ?? this.lastFailure(rt)}`);
  }

  private lastFailure(rt: Runtime): string {
    return rt.lastExit ? `${rt.lastExit.kind.replace("_", " ")} (${exitText(rt.lastExit)})` : "unknown reason";
  }

  private outcome(rt: Runtime, ok: boolean, message: string): ControlOutcome {
    return { ok, message, status: { ...this.describe(rt), cpuPercent: null, memoryBytes: null } };
  }

  private state(rt: Runtime): ProcessState {
    if (rt.refused !== null) return "refused";
    if (rt.stopping) return "stopping";
    if (rt.identity) return rt.counted ? "running" : "starting";
    if (rt.gaveUp) return "gave_up";
    if (rt.nextStartAt !== null || rt.busy) return "waiting";
    return "stopped";
  }

  private describe(rt: Runtime): Omit<ProcessStatus, "cpuPercent" | "memoryBytes"> {
    return {
      name: rt.name,
      state: this.state(rt),
      pid: rt.identity?.pid ?? null,
      startedAt: rt.identity ? rt.startedAt : null,
      restarts: rt.restarts,
      lastExit: rt.lastExit,
      held: rt.held,
      nextStartAt: rt.identity ? null : rt.nextStartAt,
      reason:
        rt.refused ??
        (rt.gaveUp
          ? `gave up: relaunched too often (at most ${rt.spec.restart.maxAttempts} within ${rt.spec.restart.windowSeconds} s, and ${RELAUNCH_CEILING.count} within ${RELAUNCH_CEILING.withinMs / 1000} s)`
          : null),
    };
  }

  private emit(rt: Runtime, kind: ProcessEventKind, details: Partial<ProcessEvent> = {}): void {
    const event: ProcessEvent = { ...details, id: `pe-${randomUUID()}`, name: rt.name, kind, at: this.now() };
    if (event.reason) event.reason = event.reason.slice(0, 1024);
    try {
      this.queue.push(event);
    } catch (err) {
      this.options.log("error", `supervisor: cannot queue a ${kind} event of ${rt.name} for the hub: ${errorText(err)}`);
    }
    const level = kind === "crashed" || kind === "start_failed" || kind === "gave_up" ? "warn" : "info";
    this.options.log(level, `supervisor: ${rt.name} ${kind.replace("_", " ")}${event.pid ? ` (pid ${event.pid})` : ""}${event.reason ? `: ${event.reason}` : ""}`);
    if (this.send && this.online && !this.send({ type: "process_events", events: [event] })) this.online = false;
  }

  /** Sends every queued event, in frames of at most MAX_EVENTS_PER_FRAME; stops at the first frame that cannot go. */
  private flush(): void {
    if (!this.send || !this.online) return;
    const pending = this.queue.pending();
    for (let i = 0; i < pending.length; i += MAX_EVENTS_PER_FRAME) {
      if (!this.send({ type: "process_events", events: pending.slice(i, i + MAX_EVENTS_PER_FRAME) })) {
        this.online = false;
        return;
      }
    }
  }

  private fresh(spec: ProcessSpec): Runtime {
    return {
      name: spec.name,
      spec,
      child: null,
      identity: null,
      launched: null,
      tracking: null,
      leftovers: null,
      startedAt: null,
      counted: false,
      relaunch: false,
      held: null,
      gaveUp: false,
      attempts: [],
      restarts: 0,
      lastExit: null,
      nextStartAt: null,
      startCause: "supervisor",
      stopping: null,
      refused: null,
      busy: null,
      lastByMode: null,
      removed: false,
      cpuSample: null,
    };
  }

  /**
   * A process as the previous agent left it. Its instance is adopted when the same process (PID, start time and boot)
   * still runs; one that ended while no agent watched is handled as an exit of unknown status once supervision starts.
   */
  private restore(spec: ProcessSpec, saved: SavedProcess | undefined): Runtime {
    const rt = this.fresh(spec);
    if (!saved) return rt;
    Object.assign(rt, {
      identity: saved.identity,
      launched: saved.launched ?? null,
      tracking: saved.tracking ?? null,
      startedAt: saved.startedAt,
      counted: saved.counted,
      relaunch: saved.relaunch,
      held: saved.held,
      gaveUp: saved.gaveUp,
      attempts: saved.attempts,
      restarts: saved.restarts,
      lastExit: saved.lastExit,
    });
    return rt;
  }

  private forget(rt: Runtime): void {
    if (!rt.removed || this.runtimes.get(rt.name) !== rt) return;
    this.runtimes.delete(rt.name);
    removeLogs(this.files.logs, 20, rt.name);
    this.save();
  }

  private save(): void {
    const state: SavedState = {};
    for (const rt of this.runtimes.values()) {
      state[rt.name] = {
        identity: rt.identity,
        startedAt: rt.startedAt,
        counted: rt.counted,
        relaunch: rt.relaunch,
        launched: rt.launched,
        tracking: rt.tracking,
        held: rt.held,
        gaveUp: rt.gaveUp,
        attempts: rt.attempts.slice(-200),
        restarts: rt.restarts,
        lastExit: rt.lastExit,
      };
    }
    try {
      saveState(this.options.dir, state);
    } catch (err) {
      this.options.log("error", `supervisor: cannot save its state: ${errorText(err)}`);
    }
  }
}

/** A start, stop, restart or log read for a name the configuration does not have. */
export class UnknownProcess extends Error {
  constructor(readonly processName: string) {
    super(`no supervised process named ${processName} on this machine`);
  }
}
