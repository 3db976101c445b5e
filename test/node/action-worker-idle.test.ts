import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { FileActionCall } from "../../agent/actions/file-action-context.ts";
import { resolveActionUser } from "../../agent/privilege/action-user.ts";
import { ActionWorker } from "../../agent/worker/file-runner.ts";
import { parseActionCall } from "../../protocol/directives.ts";
import { IS_ROOT, NOT_ROOT_REASON, TEST_ACTION_USER } from "../support/action-user.ts";
import { cleanUp, sandboxDir, waitUntil } from "./executor-harness.ts";

afterEach(cleanUp);

const IDLE_MS = 300;
const user = () => resolveActionUser({ tier: "unprivileged", runAs: TEST_ACTION_USER });

/** The action workers running as the test's action user (the agent's idle one among them when there is one). */
function workerPids(): number[] {
  return readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("action-worker.ts") && statSync(`/proc/${pid}`).uid === user().uid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function read(worker: ActionWorker, sandbox: string, signal = new AbortController().signal) {
  const out: string[] = [];
  const policy = { tier: "unprivileged" as const, sandboxRoot: sandbox, confineTo: null };
  const call = parseActionCall({ action: "read", params: { path: join(sandbox, "a.txt") } }).data as FileActionCall;
  return worker.run(call, policy, signal, { write: (data) => void out.push(String(data)) }).then((outcome) => ({ outcome, out: out.join("") }));
}

describe.skipIf(!IS_ROOT)(`the action worker at rest (${NOT_ROOT_REASON})`, () => {
  const workers: ActionWorker[] = [];
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
  });

  function actionWorker(): ActionWorker {
    const worker = new ActionWorker(user(), null, 1_000, IDLE_MS);
    workers.push(worker);
    return worker;
  }

  it("exits once it has had nothing to do, and the next action starts a new one that answers it", async () => {
    const sandbox = sandboxDir();
    writeFileSync(join(sandbox, "a.txt"), "a\n");
    const before = new Set(workerPids());
    const worker = actionWorker();
    await worker.check(sandbox);
    const started = workerPids().filter((pid) => !before.has(pid));
    expect(started).toHaveLength(1);
    await waitUntil(() => !workerPids().includes(started[0]!), 10_000, "the idle worker to exit");

    const { outcome, out } = await read(worker, sandbox);
    expect(outcome.failure).toBeUndefined();
    expect(out).toBe("     1\ta");
    const again = workerPids().filter((pid) => !before.has(pid));
    expect(again).toHaveLength(1);
    expect(again[0]).not.toBe(started[0]);
  });

  it("is kept while actions come closer together than the idle time: each one restarts the count", async () => {
    const sandbox = sandboxDir();
    writeFileSync(join(sandbox, "a.txt"), "a\n");
    const before = new Set(workerPids());
    const worker = actionWorker();
    await worker.check(sandbox);
    const [pid] = workerPids().filter((p) => !before.has(p));
    for (let i = 0; i < 4; i++) {
      await sleep(IDLE_MS / 2);
      expect((await read(worker, sandbox)).outcome.failure).toBeUndefined();
    }
    expect(workerPids()).toContain(pid);
  });
});
