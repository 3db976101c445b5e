import { spawn, type ChildProcess } from "node:child_process";
import type { ActionOutcome, OutputSink } from "../actions/action-context.ts";
import { ActionError } from "../actions/action-error.ts";
import { NO_HELP, type AgentHelp, type HelpRequest } from "../actions/agent-help.ts";
import { performFileAction } from "../actions/file-actions.ts";
import type { FileActionCall } from "../actions/file-action-context.ts";
import { actionEnvironment } from "../privilege/action-environment.ts";
import type { ActionUser } from "../privilege/action-user.ts";
import { StartupError } from "../privilege/startup-error.ts";
import { ACTION_WORKER_FLAG } from "../bundle.ts";
import { agentScriptCommand } from "../processes/agent-script.ts";
import { PathPolicy, type PolicySpec } from "../sandbox/path-policy.ts";
import { WorkerToAgent, type AgentToWorker, type WorkerIdentity } from "./worker-messages.ts";

/** Runs file actions (read, write, edit, glob, grep, roost deployments) with the action user's rights. */
export interface FileActionRunner {
  /** `help` answers what the action asks of the agent while it runs (see agent-help.ts). */
  run(call: FileActionCall, policy: PolicySpec, signal: AbortSignal, out: OutputSink, help?: AgentHelp): Promise<ActionOutcome>;
  /** Starts whatever the runner needs and proves it works, and that the action user can reach the sandbox; a StartupError says why not. */
  check(sandboxRoot: string): Promise<void>;
  close(): Promise<void>;
}

/** Actions run as the agent's own user: in the agent itself. */
export class InProcessFileRunner implements FileActionRunner {
  constructor(private readonly ripgrep: string | null) {}

  run(call: FileActionCall, policy: PolicySpec, signal: AbortSignal, out: OutputSink, help: AgentHelp = NO_HELP): Promise<ActionOutcome> {
    return performFileAction(call, { signal, out, policy: new PathPolicy(policy), ripgrep: this.ripgrep, agent: help });
  }

  async check(): Promise<void> {}

  async close(): Promise<void> {}
}

const WORKER_SCRIPT = new URL("./action-worker.ts", import.meta.url);
const READY_TIMEOUT_MS = 30_000;
/**
 * A worker left with nothing to do exits after this long. An agent at rest then holds one Node process, not two (the
 * worker is a whole Node process, about 60 MiB resident); a burst of actions keeps it warm, and the first action after
 * a quiet minute pays for starting it again (see docs/benchmarks.md, "The agent at rest").
 */
export const WORKER_IDLE_MS = 60_000;

interface Pending {
  out: OutputSink;
  help: AgentHelp;
  signal: AbortSignal;
  worker: Worker;
  resolve(outcome: ActionOutcome): void;
  reject(err: unknown): void;
}

interface Worker {
  child: ChildProcess;
  ready: Promise<void>;
}

/**
 * A child process that runs file actions as the action user (see action-worker.ts). Started on first use, started
 * again if it dies, stopped once it has had nothing to do for `idleMs`; a request whose cancel it does not honour
 * within the grace gets the worker killed.
 */
export class ActionWorker implements FileActionRunner {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly user: ActionUser,
    private readonly ripgrep: string | null,
    private readonly killGraceMs: number,
    private readonly idleMs = WORKER_IDLE_MS,
  ) {}

  async check(sandboxRoot: string): Promise<void> {
    const worker = this.started();
    try {
      await worker.ready;
    } catch (err) {
      throw new StartupError(`cannot run actions as ${this.user.name}: ${(err as Error).message}`);
    }
    try {
      await this.request(worker, (id) => ({ type: "probe", id, path: sandboxRoot }), new AbortController().signal, { write: () => undefined }, NO_HELP);
    } catch (err) {
      throw new StartupError(`${this.user.name} cannot reach the sandbox ${sandboxRoot} (is a parent folder closed to it?): ${(err as Error).message}`);
    }
  }

  async run(call: FileActionCall, policy: PolicySpec, signal: AbortSignal, out: OutputSink, help: AgentHelp = NO_HELP): Promise<ActionOutcome> {
    signal.throwIfAborted();
    const worker = this.started();
    await worker.ready;
    signal.throwIfAborted();
    return this.request(worker, (id) => ({ type: "run", id, call, policy, ripgrep: this.ripgrep }), signal, out, help);
  }

  private async request(worker: Worker, message: (id: number) => AgentToWorker, signal: AbortSignal, out: OutputSink, help: AgentHelp): Promise<ActionOutcome> {
    const id = this.nextId++;
    this.stopIdleTimer();
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      this.send(worker, { type: "cancel", id });
      killTimer = setTimeout(() => worker.child.kill("SIGKILL"), this.killGraceMs);
    };
    try {
      return await new Promise<ActionOutcome>((resolve, reject) => {
        this.pending.set(id, { out, help, signal, worker, resolve, reject });
        signal.addEventListener("abort", onAbort, { once: true });
        this.send(worker, message(id));
      });
    } catch (err) {
      throw signal.aborted ? signal.reason : err;
    } finally {
      clearTimeout(killTimer);
      signal.removeEventListener("abort", onAbort);
      this.pending.delete(id);
      this.startIdleTimer();
    }
  }

  private startIdleTimer(): void {
    if (this.pending.size > 0 || !this.worker) return;
    this.stopIdleTimer();
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (this.pending.size === 0) void this.close();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  async close(): Promise<void> {
    this.stopIdleTimer();
    const worker = this.worker;
    this.worker = null;
    if (!worker || worker.child.exitCode !== null || worker.child.signalCode !== null) return;
    const exited = new Promise((resolve) => worker.child.once("exit", resolve));
    worker.child.disconnect();
    const timer = setTimeout(() => worker.child.kill("SIGKILL"), this.killGraceMs);
    await exited;
    clearTimeout(timer);
  }

  private send(worker: Worker, message: AgentToWorker): void {
    if (worker.child.connected) worker.child.send(message);
  }

  private started(): Worker {
    this.stopIdleTimer();
    if (this.worker) return this.worker;
    const identity: WorkerIdentity = { name: this.user.name, uid: this.user.uid, gid: this.user.gid, groups: this.user.groups };
    const command = agentScriptCommand(WORKER_SCRIPT, ACTION_WORKER_FLAG, [JSON.stringify(identity)]);
    const child = spawn(command.file, command.args, {
      cwd: "/",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      serialization: "advanced",
      env: actionEnvironment(this.user),
      windowsHide: true,
    });
    let stderr = "";
    child.stderr?.on("data", (data: Buffer) => {
      if (stderr.length < 4096) stderr += data.toString();
    });
    const worker: Worker = {
      child,
      ready: new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("the action worker did not start in time")), READY_TIMEOUT_MS);
        child.on("message", (raw: unknown) => {
          const parsed = WorkerToAgent.safeParse(raw);
          if (!parsed.success) return;
          if (parsed.data.type === "ready") {
            clearTimeout(timer);
            resolve();
          } else {
            this.receive(parsed.data);
          }
        });
        child.once("exit", (code, signal) => {
          clearTimeout(timer);
          if (this.worker === worker) this.worker = null;
          const reason = new ActionError("exec_failed", `the action worker stopped (${signal ?? `exit ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
          reject(reason);
          for (const pending of this.pending.values()) pending.reject(reason);
        });
        child.once("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
      }),
    };
    // A rejection nobody awaits yet (the worker died while idle) must not crash the agent.
    worker.ready.catch(() => undefined);
    this.worker = worker;
    return worker;
  }

  private receive(message: Exclude<WorkerToAgent, { type: "ready" }>): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    switch (message.type) {
      case "out":
        pending.out.write(message.data, message.stream);
        return;
      case "done":
        pending.resolve(message.outcome);
        return;
      case "error":
        pending.reject(new ActionError(message.code, message.message));
        return;
      case "progress":
        pending.help.progress(message.progress);
        return;
      case "ask":
        void this.answer(pending, message.id, message.askId, message.request);
        return;
    }
  }

  private async answer(pending: Pending, id: number, askId: number, request: HelpRequest): Promise<void> {
    let answer: AgentToWorker;
    try {
      answer = { type: "answer", id, askId, bytes: await pending.help.ask(request, pending.signal) };
    } catch (err) {
      const failure = err instanceof ActionError ? err : new ActionError("exec_failed", err instanceof Error ? err.message : String(err));
      answer = { type: "answer", id, askId, error: { code: failure.code, message: failure.message } };
    }
    if (this.pending.get(id) === pending) this.send(pending.worker, answer);
  }
}
