import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import type { DirectiveExecutor } from "../../agent/directives/directive-executor.ts";
import { runFiles, RunStatus, readJson } from "../../agent/runs/run-files.ts";
import { directive, executor, FakeHub, isolateHome, processAlive, cleanUp, run, tempDir, waitUntil } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

async function launch(agent: DirectiveExecutor, hub: FakeHub, params: Record<string, unknown>) {
  const result = await run(agent, hub, directive("run.launch", params));
  expect(result).toMatchObject({ success: true, data: { kind: "run" } });
  if (result.data?.kind !== "run") throw new Error("no run data");
  return result.data;
}

async function status(agent: DirectiveExecutor, hub: FakeHub, runId: string) {
  const result = await run(agent, hub, directive("run.status", { runId }));
  if (result.data?.kind !== "run_status") throw new Error(`no run status: ${result.error}`);
  return { ...result.data, output: result.output };
}

describe("long runs", () => {
  it("launches at once, reports status while running, and delivers run_complete exactly once until acknowledged", async () => {
    const hub = new FakeHub();
    const agent = executor({ stateDir: tempDir() });
    agent.connected(hub.send);
    const { runId, pid } = await launch(agent, hub, { command: "echo begin; sleep 1.5; echo end", name: "train" });
    expect(pid).toBeGreaterThan(0);
    expect(await status(agent, hub, runId)).toMatchObject({ state: "running", exitCode: null });

    await waitUntil(() => hub.runCompletions(runId).length > 0, 10_000, "run_complete");
    const [complete] = hub.runCompletions(runId);
    expect(complete).toMatchObject({ state: "done", exitCode: 0, outputTail: "begin\nend\n" });
    expect(complete!.endedAt).toBeGreaterThan(complete!.startedAt);
    expect(await status(agent, hub, runId)).toMatchObject({ state: "done", exitCode: 0, output: "begin\nend\n" });

    agent.runCompleteAcknowledged(runId);
    agent.connected(hub.send);
    expect(hub.runCompletions(runId)).toHaveLength(1);
  });

  it("delivers a run that finished while disconnected on the next connection", async () => {
    const hub = new FakeHub();
    const agent = executor({ stateDir: tempDir() });
    const { runId } = await launch(agent, hub, { command: "echo quick" });
    hub.online = false;
    agent.connected(hub.send);
    await waitUntil(() => agent.activeCount() === 0, 5_000, "idle");
    await sleep(1_500);
    expect(hub.runCompletions(runId)).toHaveLength(0);
    hub.online = true;
    agent.connected(hub.send);
    expect(hub.runCompletions(runId)).toEqual([expect.objectContaining({ state: "done", outputTail: "quick\n" })]);
  });

  it("sends an unacknowledged completion again at each re-check", async () => {
    const hub = new FakeHub();
    const agent = executor({ stateDir: tempDir(), runRecheckMs: 200 });
    agent.connected(hub.send);
    const { runId } = await launch(agent, hub, { command: "true" });
    await waitUntil(() => hub.runCompletions(runId).length >= 3, 10_000, "repeated run_complete");
    agent.runCompleteAcknowledged(runId);
    const count = hub.runCompletions(runId).length;
    await sleep(500);
    expect(hub.runCompletions(runId)).toHaveLength(count);
  });

  it("ends a run that stays silent past its stall timeout as stalled, killing its process group", async () => {
    const hub = new FakeHub();
    const stateDir = tempDir();
    const agent = executor({ stateDir });
    agent.connected(hub.send);
    const { runId } = await launch(agent, hub, { command: "echo started; sleep 30 & echo $!; wait", stallTimeoutMs: 600 });
    await waitUntil(() => hub.runCompletions(runId).length > 0, 10_000, "the stall");
    const [complete] = hub.runCompletions(runId);
    expect(complete).toMatchObject({ state: "stalled", reason: "no output for 600 ms" });
    const sleeper = Number(complete!.outputTail.split("\n")[1]);
    await waitUntil(() => !processAlive(sleeper), 1_000, "the sleep to die");
  });

  it("run.cancel stops the run's whole process group and records it cancelled", async () => {
    const hub = new FakeHub();
    const agent = executor({ stateDir: tempDir() });
    agent.connected(hub.send);
    const { runId, pid } = await launch(agent, hub, { command: "sleep 30 & echo $!; wait" });
    let sleeper = 0;
    while (!sleeper) {
      await sleep(100);
      sleeper = Number((await status(agent, hub, runId)).output.trim());
    }
    const result = await run(agent, hub, directive("run.cancel", { runId }));
    expect(result).toMatchObject({ success: true, output: `run ${runId} is cancelled`, data: { kind: "run_status", state: "cancelled" } });
    expect(processAlive(pid!)).toBe(false);
    await waitUntil(() => hub.runCompletions(runId).length > 0, 5_000, "run_complete");
    await waitUntil(() => !processAlive(sleeper), 1_000, "the background sleep to die");
  });

  it("reports a run whose watcher died without recording an ending as lost", async () => {
    const hub = new FakeHub();
    const stateDir = tempDir();
    const agent = executor({ stateDir });
    const { runId, pid } = await launch(agent, hub, { command: "sleep 30" });
    const watcherPid = readJson(runFiles(join(stateDir, "runs", runId)).status, RunStatus)!.watcherPid!;
    process.kill(watcherPid, "SIGKILL");
    await waitUntil(() => !processAlive(watcherPid), 2_000, "the watcher to die");
    expect(await status(agent, hub, runId)).toMatchObject({ state: "lost", reason: "the run's watcher process is gone" });
    agent.connected(hub.send);
    expect(hub.runCompletions(runId)).toEqual([expect.objectContaining({ state: "lost" })]);
    process.kill(-pid!, "SIGKILL");
  });

  it("keeps running after the agent process that launched it exits, and is reported by the next agent as soon as it ends", async () => {
    const stateDir = tempDir();
    const sandbox = join(tempDir(), "sandbox");
    const script = `
      import { DirectiveExecutor } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, "../../agent/directives/directive-executor.ts")).href)};
      const agent = new DirectiveExecutor({ tier: "root", sandboxRoot: ${JSON.stringify(sandbox)}, stateDir: ${JSON.stringify(stateDir)}, log: () => {} });
      agent.run({ type: "directive", id: "launch-1", sessionId: "s", action: "run.launch", params: { command: "sleep 3; echo survived" } }, (m) => {
        if (m.type === "result") { console.log(JSON.stringify(m)); process.exit(0); }
        return true;
      });`;
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    const launched = spawnSync(process.execPath, ["--import", tsx, "--input-type=module", "-e", script], { encoding: "utf8", timeout: 15_000 });
    expect(JSON.parse(launched.stdout)).toMatchObject({ success: true, data: { kind: "run" } });

    // The run is still going when the next agent connects; it must not wait for the minute-long re-check.
    const hub = new FakeHub();
    const agent = executor({ stateDir });
    agent.connected(hub.send);
    expect(hub.runCompletions()).toHaveLength(0);
    await waitUntil(() => hub.runCompletions().length > 0, 8_000, "run_complete from the earlier agent's run");
    expect(hub.runCompletions()[0]).toMatchObject({ directiveId: "launch-1", state: "done", outputTail: "survived\n" });
  });

  it("refuses unknown runs and runs without a state dir with clear errors", async () => {
    const hub = new FakeHub();
    expect(await run(executor({ stateDir: tempDir() }), hub, directive("run.status", { runId: "run-nope" }))).toMatchObject({
      success: false,
      errorCode: "not_found",
      error: "no run run-nope on this node",
    });
    const result = await run(executor(), hub, directive("run.launch", { command: "true" }));
    expect(result).toMatchObject({ success: false, errorCode: "exec_failed" });
    expect(result.error).toContain("state directory");
  });
});
