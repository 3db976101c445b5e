import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll } from "vitest";
import type { ActionName } from "../../protocol/directives.ts";
import { MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import {
  NodeToHubMessage,
  type DirectiveMessage,
  type ResultMessage,
  type RunCompleteMessage,
  type StreamChunkMessage,
} from "../../protocol/node-messages.ts";
import { DirectiveExecutor, type DirectiveExecutorOptions } from "../../agent/directives/directive-executor.ts";
import { resolveActionUser } from "../../agent/privilege/action-user.ts";
import { sharedTempRoot, TEST_ACTION_USER, testRunAs } from "../support/action-user.ts";

/** Shared by the executor, actions, sandbox and runs tests: a fake hub and throwaway folders. */

const created: string[] = [];
const executors: DirectiveExecutor[] = [];

/**
 * A fresh folder under the system temp dir, by its real path, removed by `cleanUp`. Open to everyone for reading
 * (mode 0755), so that when the test's action user is refused something, the agent's policy refused it, not the kernel.
 */
export function tempDir(prefix = "cortex-test-"): string {
  const dir = realpathSync(mkdtempSync(join(sharedTempRoot(), prefix)));
  chmodSync(dir, 0o755);
  created.push(dir);
  return dir;
}

/** A sandbox folder as the agent wants it: owned by the action user of this test run, mode 0700. */
export function sandboxDir(): string {
  const dir = join(tempDir("cortex-sandbox-"), "sandbox");
  mkdirSync(dir, { mode: 0o700 });
  return giveToActionUser(dir);
}

/** Makes an existing folder fit to be a sandbox: owned by the action user of this test run, mode 0700. */
export function giveToActionUser(dir: string): string {
  chmodSync(dir, 0o700);
  const runAs = testRunAs();
  if (runAs) {
    const user = resolveActionUser({ tier: "unprivileged", runAs });
    chownSync(dir, user.uid, user.gid);
  }
  return dir;
}

/** Stops every executor a test made (and its action worker), then removes the temp folders. */
export async function cleanUp(): Promise<void> {
  await Promise.all(executors.splice(0).map((agent) => agent.shutdown()));
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Gives the login shells of a test file an empty HOME. They would otherwise run the user's dotfiles, and a test that
 * kills a shell during its startup could leave the user's locks behind (pyenv's rehash lock, for one).
 */
export function isolateHome(): void {
  const original = process.env.HOME;
  let home = "";
  beforeAll(() => {
    home = realpathSync(mkdtempSync(join(tmpdir(), "cortex-home-")));
    process.env.HOME = home;
  });
  afterAll(() => {
    process.env.HOME = original;
    rmSync(home, { recursive: true, force: true });
  });
}

/** Records what the agent sends, checking each message against the protocol and the frame limit. */
export class FakeHub {
  readonly messages: NodeToHubMessage[] = [];
  online = true;

  readonly send = (message: NodeToHubMessage): boolean => {
    if (!this.online) return false;
    const frame = JSON.stringify(message);
    if (Buffer.byteLength(frame) > MAX_FRAME_BYTES) throw new Error(`frame of ${Buffer.byteLength(frame)} bytes`);
    this.messages.push(NodeToHubMessage.parse(JSON.parse(frame)));
    return true;
  };

  results(directiveId: string): ResultMessage[] {
    return this.messages.filter((m): m is ResultMessage => m.type === "result" && m.directiveId === directiveId);
  }

  chunks(directiveId: string): StreamChunkMessage[] {
    return this.messages.filter((m): m is StreamChunkMessage => m.type === "stream_chunk" && m.directiveId === directiveId);
  }

  runCompletions(runId?: string): RunCompleteMessage[] {
    return this.messages.filter((m): m is RunCompleteMessage => m.type === "run_complete" && (runId === undefined || m.runId === runId));
  }

  async result(directiveId: string, timeoutMs = 15_000): Promise<ResultMessage> {
    await waitUntil(() => this.results(directiveId).length > 0, timeoutMs, `result of ${directiveId}`);
    return this.results(directiveId)[0]!;
  }
}

export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let counter = 0;

export function directive(action: ActionName, params: Record<string, unknown>, extra: Partial<DirectiveMessage> = {}): DirectiveMessage {
  return { type: "directive", id: `d-${process.pid}-${++counter}`, sessionId: "test", action, params, ...extra };
}

export const silentLog = (): void => {};

/**
 * An executor at tier root unless told otherwise; at a lower tier, when the test runs as root, its actions run as
 * the test's action user (`${TEST_ACTION_USER}`), as they would for an installed agent.
 */
export function executor(options: Partial<DirectiveExecutorOptions> = {}): DirectiveExecutor {
  const tier = options.tier ?? "root";
  const agent = new DirectiveExecutor({
    tier,
    sandboxRoot: join(tempDir("cortex-sandbox-"), "sandbox"),
    log: silentLog,
    killGraceMs: 100,
    ...(tier !== "root" && { runAs: testRunAs() }),
    ...options,
  });
  executors.push(agent);
  return agent;
}

/** Runs one directive to its result. */
export async function run(agent: DirectiveExecutor, hub: FakeHub, message: DirectiveMessage, timeoutMs?: number): Promise<ResultMessage> {
  agent.run(message, hub.send);
  return hub.result(message.id, timeoutMs);
}

/** True while the process exists and is not a zombie waiting to be reaped by whoever adopted it. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}
