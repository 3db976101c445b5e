import { spawn, type ChildProcess } from "node:child_process";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
}

/**
 * A child process in its own process group, with its output captured. Killing it signals the whole group, so
 * anything it started in that group goes too.
 */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ProcessExit>;
  stdout = "";
  stderr = "";

  constructor(
    readonly label: string,
    command: string,
    args: string[],
    options: SpawnOptions,
  ) {
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    this.child.stdout!.setEncoding("utf8").on("data", (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding("utf8").on("data", (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => {
      this.child.once("close", (code, signal) => resolve({ code, signal }));
      this.child.once("error", () => resolve({ code: null, signal: null }));
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Signals the process only (not its group): what a user's Ctrl-C or `kill` does to the program itself. */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Signals the whole process group. */
  killGroup(signal: NodeJS.Signals = "SIGKILL"): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** Waits for the exit, failing with the output if it takes longer than `timeoutMs`. */
  async waitForExit(timeoutMs = 20_000): Promise<ProcessExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label}: still running after ${timeoutMs} ms; output:\n${this.output}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Every process a test file started, so `afterAll` can kill what is left in one call. */
export class ProcessSet {
  private readonly all = new Set<ManagedProcess>();

  add<P extends ManagedProcess>(proc: P): P {
    this.all.add(proc);
    void proc.exited.then(() => this.all.delete(proc));
    return proc;
  }

  async killAll(): Promise<void> {
    const left = [...this.all];
    for (const proc of left) proc.killGroup("SIGKILL");
    await Promise.all(left.map((proc) => proc.exited));
  }
}
