import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DirectiveExecutor } from "../agent/directives/directive-executor.ts";
import { resolveActionUser } from "../agent/privilege/action-user.ts";
import type { ActionName } from "../protocol/directives.ts";
import type { NodeToHubMessage, ResultMessage } from "../protocol/node-messages.ts";
import { IS_ROOT, setupTestUser, sharedTempRoot, TEST_ACTION_USER } from "../test/support/action-user.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";

/**
 * What running actions as the action user costs, at the agent (no hub in the way): a `read` of a small file answered
 * in the agent itself (tier root: descriptor checks, no worker) and by the action worker (tier unprivileged, as the
 * action user, over its IPC pipe); a `bash` echo started directly and through setpriv. Baseline: `fs.readFile` of the
 * same file in this process, the floor any read pays.
 */
const RUNS = Number(process.env.BENCH_WORKER_RUNS ?? 300);
const WARMUP = 20;
const BENCH = "action user";

async function timeDirectives(agent: DirectiveExecutor, action: ActionName, params: Record<string, unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const id = `bench-${action}-${i}-${Math.random().toString(36).slice(2)}`;
    const start = process.hrtime.bigint();
    const result = await new Promise<ResultMessage>((resolve) => {
      agent.run({ type: "directive", id, sessionId: "bench", action, params }, (message: NodeToHubMessage) => {
        if (message.type === "result") resolve(message);
        return true;
      });
    });
    if (!result.success) throw new Error(`${action} failed: ${result.error}`);
    if (i >= WARMUP) samples.push(elapsedMs(start));
  }
  return samples;
}

export async function run(): Promise<BenchResult[]> {
  const base = mkdtempSync(join(sharedTempRoot(), "cortex-bench-"));
  chmodSync(base, 0o755);
  const agents: DirectiveExecutor[] = [];
  const home = process.env.HOME;
  // Both shells compared start with no profile to read: root's dotfiles would weigh on one side only.
  process.env.HOME = join(base, "home");
  mkdirSync(process.env.HOME);
  try {
    const file = join(base, "root-sandbox", "notes.txt");
    const inProcess = new DirectiveExecutor({ tier: "root", sandboxRoot: join(base, "root-sandbox"), log: () => {} });
    agents.push(inProcess);
    writeFileSync(file, Array.from({ length: 200 }, (_, i) => `line ${i}`).join("\n"));

    const floor: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const start = process.hrtime.bigint();
      readFileSync(file, "utf8").split("\n").map((line, n) => `${n + 1}\t${line}`).join("\n");
      if (i >= WARMUP) floor.push(elapsedMs(start));
    }
    const local = await timeDirectives(inProcess, "read", { path: file });
    const localBash = await timeDirectives(inProcess, "bash", { command: "echo hi" });
    const results: BenchResult[] = [
      { bench: BENCH, metric: `read, in the agent (tier root), p50 of ${RUNS}`, unit: "ms", value: percentile(local, 50), baseline: percentile(floor, 50), baselineLabel: "fs.readFile in-process" },
      { bench: BENCH, metric: `read, in the agent (tier root), p99 of ${RUNS}`, unit: "ms", value: percentile(local, 99), baseline: percentile(floor, 99), baselineLabel: "fs.readFile in-process" },
    ];
    if (!IS_ROOT) {
      process.stderr.write("action user bench: not root, so the action worker and setpriv cannot be measured here\n");
      return results;
    }

    setupTestUser();
    const user = resolveActionUser({ tier: "unprivileged", runAs: TEST_ACTION_USER });
    const sandbox = join(base, "sandbox");
    const worker = new DirectiveExecutor({ tier: "unprivileged", sandboxRoot: sandbox, runAs: TEST_ACTION_USER, log: () => {} });
    agents.push(worker);
    const sudo = new DirectiveExecutor({ tier: "sudo", sandboxRoot: join(base, "sudo-sandbox"), runAs: TEST_ACTION_USER, log: () => {} });
    agents.push(sudo);
    await worker.check();
    const inSandbox = join(sandbox, "notes.txt");
    writeFileSync(inSandbox, readFileSync(file));
    if (user.uid !== worker.user.uid) throw new Error("the worker does not run as the action user");
    const viaWorker = await timeDirectives(worker, "read", { path: inSandbox });
    const switchedBash = await timeDirectives(sudo, "bash", { command: "echo hi" });
    return [
      ...results,
      { bench: BENCH, metric: `read, by the action worker as ${TEST_ACTION_USER}, p50 of ${RUNS}`, unit: "ms", value: percentile(viaWorker, 50), baseline: percentile(local, 50), baselineLabel: "read in the agent" },
      { bench: BENCH, metric: `read, by the action worker as ${TEST_ACTION_USER}, p99 of ${RUNS}`, unit: "ms", value: percentile(viaWorker, 99), baseline: percentile(local, 99), baselineLabel: "read in the agent" },
      { bench: BENCH, metric: `bash echo through setpriv as ${TEST_ACTION_USER}, p50 of ${RUNS}`, unit: "ms", value: percentile(switchedBash, 50), baseline: percentile(localBash, 50), baselineLabel: "bash echo as root" },
    ];
  } finally {
    process.env.HOME = home;
    await Promise.all(agents.map((agent) => agent.shutdown()));
    rmSync(base, { recursive: true, force: true });
  }
}

await runIfMain(import.meta.url, run);
