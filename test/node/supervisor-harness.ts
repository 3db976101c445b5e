import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../../agent/connection/logger.ts";
import { ProcessSupervisor, type SupervisorOptions } from "../../agent/supervisor/process-supervisor.ts";
import type { NodeToHubMessage } from "../../protocol/node-messages.ts";
import { ProcessConfig, ProcessSpec, type ProcessEvent, type ProcessEventKind, type ProcessSpecInput } from "../../protocol/processes.ts";
import { waitFor } from "../support/wait-for.ts";

/** Every supervisor a test made, closed and its processes killed after the test. */
const made: { supervisor: ProcessSupervisor; dir: string }[] = [];
const dirs: string[] = [];
let version = 0;

export function tempDir(prefix = "cortex-supervisor-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A unique word to put in test commands, so every process they leave can be found and killed. */
export function marker(): string {
  return `cortex-sv-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** PIDs of processes whose command line contains the marker. */
export function pidsWith(mark: string): number[] {
  try {
    return execFileSync("pgrep", ["-f", mark], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function killAllWith(mark: string): void {
  for (const pid of pidsWith(mark)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // Not a group leader, or gone already.
      }
    }
  }
}

/** A shell program tagged with the marker (as its $0), so it shows in `pgrep -f`; the trailing `true` keeps sh from exec'ing away. */
export function sh(script: string, mark: string): Pick<ProcessSpecInput, "command" | "args"> {
  return { command: "/bin/sh", args: ["-c", `${script}; true`, mark] };
}

export const quietLog: Logger = () => undefined;

/** A hub as the supervisor sees it: a send that records frames, which can be taken offline. */
export class FakeLink {
  online = true;
  readonly frames: NodeToHubMessage[] = [];
  readonly send = (message: NodeToHubMessage): boolean => {
    if (!this.online) return false;
    this.frames.push(message);
    return true;
  };

  /** Every event received, repeats included, in order. */
  received(): ProcessEvent[] {
    return this.frames.flatMap((f) => (f.type === "process_events" ? f.events : []));
  }

  /** Every distinct event received, in the order they first arrived (the hub drops repeats by id). */
  events(): ProcessEvent[] {
    const seen = new Set<string>();
    return this.received().filter((e) => !seen.has(e.id) && seen.add(e.id));
  }

  kinds(name?: string): ProcessEventKind[] {
    return this.events()
      .filter((e) => name === undefined || e.name === name)
      .map((e) => e.kind);
  }
}

export function supervisor(options: Partial<SupervisorOptions> & { dir?: string } = {}): ProcessSupervisor {
  const dir = options.dir ?? tempDir();
  const s = new ProcessSupervisor({ tier: "root", sandboxRoot: "/tmp/cortex-sandbox", log: quietLog, tickMs: 50, ...options, dir });
  made.push({ supervisor: s, dir });
  return s;
}

export function spec(input: ProcessSpecInput): ProcessSpec {
  return ProcessSpec.parse(input);
}

/** A configuration with a version higher than any given before in this test file. */
export function config(...processes: ProcessSpecInput[]): ProcessConfig {
  version += 1;
  return ProcessConfig.parse({ version: Date.now() * 1000 + version, processes });
}

export async function waitForKinds(link: FakeLink, kinds: ProcessEventKind[], name?: string, timeoutMs = 15_000): Promise<ProcessEvent[]> {
  try {
    await waitFor(`events ${kinds.join(", ")}`, () => {
      const got = link.kinds(name);
      return kinds.every((k, i) => got[i] === k);
    }, { timeoutMs, intervalMs: 20 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; got ${link.kinds(name).join(", ") || "none"}`);
  }
  return link.events().filter((e) => name === undefined || e.name === name);
}

export function cleanUp(marks: string[]): void {
  for (const { supervisor: s } of made.splice(0)) s.close();
  for (const mark of marks.splice(0)) killAllWith(mark);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
