import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { processTable } from "../../agent/processes/proc-table.ts";
import { type RunSpec, RunStatus, readJson, runFiles, writeJsonAtomic } from "../../agent/runs/run-files.ts";
import { RunManager } from "../../agent/runs/run-manager.ts";
import { bootId, identityOf } from "../../agent/supervisor/proc-info.ts";
import { FakeHub, cleanUp, directive, executor, isolateHome, processAlive, run, tempDir, waitUntil } from "./executor-harness.ts";

isolateHome();

const spawned: ChildProcess[] = [];
afterEach(async () => {
  for (const child of spawned.splice(0)) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }
  await cleanUp();
});

/** A process of its own session, with a child in it: what cancel must leave alone when the PID is not the run's. */
function sessionLeader(): { pid: number; members: () => number[] } {
  const child = spawn("sh", ["-c", "sleep 60; :"], { detached: true, stdio: "ignore" });
  spawned.push(child);
  const pid = child.pid!;
  return { pid, members: () => processTable().filter((p) => p.sid === pid).map((p) => p.pid) };
}

/** Some live process that is not a watcher, holding the PID a watcher had before the reboot. */
function unrelatedProcess(args: string[] = ["-e", "setInterval(() => {}, 1000)"]): number {
  const child = spawn(process.execPath, args, { detached: true, stdio: "ignore" });
  spawned.push(child);
  return child.pid!;
}

function identity(pid: number) {
  const found = identityOf(pid);
  if (!found) throw new Error(`no process ${pid}`);
  return found;
}

function newRunId(): string {
  return `run-stale-${randomUUID().slice(0, 8)}`;
}

/** A run directory as the agent and a watcher leave it, with the status given. */
function runDir(
  stateDir: string,
  status: Omit<RunStatus, "runId" | "state" | "startedAt" | "endedAt" | "lastOutputAt" | "exitCode" | "outputBytes">,
  runId = newRunId(),
) {
  const dir = join(stateDir, "runs", runId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const user = userInfo();
  const spec: RunSpec = {
    runId,
    directiveId: "launch-1",
    command: "sleep 60",
    cwd: dir,
    stallTimeoutMs: 600_000,
    killGraceMs: 100,
    createdAt: Date.now() - 60_000,
    user: { name: user.username, uid: user.uid, gid: user.gid, groups: [user.gid], home: user.homedir, shell: "/bin/sh", switched: false },
    tracking: { marker: `r-stale-${randomUUID().slice(0, 8)}`, cgroup: null },
  };
  writeJsonAtomic(runFiles(dir).spec, spec);
  writeJsonAtomic(runFiles(dir).status, {
    runId,
    state: "running",
    startedAt: spec.createdAt,
    endedAt: null,
    lastOutputAt: null,
    exitCode: null,
    outputBytes: 0,
    ...status,
  } satisfies RunStatus);
  return { runId, dir };
}

function manager(stateDir: string, onWatcherExit = () => {}) {
  const user = userInfo();
  return new RunManager(stateDir, 100, onWatcherExit, {
    user: { name: user.username, uid: user.uid, gid: user.gid, groups: [user.gid], home: user.homedir, shell: "/bin/sh", switched: false },
    cgroupParent: null,
  });
}

/** Cancels, and stands in for the watcher that would record the ending once asked to. */
async function cancelWithWatcher(runs: RunManager, runId: string, dir: string, watcherPid: number) {
  const cancelling = runs.cancel(runId);
  expect(existsSync(runFiles(dir).cancelRequested)).toBe(true);
  process.kill(watcherPid, "SIGKILL");
  return cancelling;
}

describe("long runs whose recorded PIDs now name other processes", () => {
  it("after a reboot, reads the run as lost and cancel leaves alone the session that now has the command's PID", async () => {
    const stateDir = tempDir();
    const leader = sessionLeader();
    const watcherPid = unrelatedProcess();
    await waitUntil(() => leader.members().length === 2, 2_000, "the session leader and its child");
    // Even the start ticks match: only the boot id tells the old processes from the new ones.
    const { runId } = runDir(stateDir, {
      watcherPid,
      pid: leader.pid,
      bootId: randomUUID(),
      watcherStartTicks: identity(watcherPid).startTicks,
      pidStartTicks: identity(leader.pid).startTicks,
    });
    let exits = 0;
    const runs = manager(stateDir, () => exits++);
    runs.watchAdopted();
    runs.close();

    const cancelled = await runs.cancel(runId);
    await sleep(300);
    expect(leader.members()).toHaveLength(2);
    expect(processAlive(watcherPid)).toBe(true);
    expect(cancelled.status).toMatchObject({ state: "lost", reason: "the run's watcher process is gone" });
    // The restarted agent's poll of adopted runs reports it at once too.
    expect(exits).toBe(1);
    expect(runs.pendingCompletions()).toEqual([expect.objectContaining({ runId, state: "lost" })]);
  });

  it("reads a run as lost when its watcher's PID was reused in the same boot", () => {
    const stateDir = tempDir();
    const watcherPid = unrelatedProcess();
    const { runId } = runDir(stateDir, {
      watcherPid,
      pid: null,
      bootId: bootId(),
      watcherStartTicks: identity(watcherPid).startTicks - 1,
      pidStartTicks: null,
    });
    expect(manager(stateDir).status(runId).status.state).toBe("lost");
  });

  it("reads a status file from an older agent, with bare PIDs of unrelated processes, as lost and kills nothing", async () => {
    const stateDir = tempDir();
    const leader = sessionLeader();
    const watcherPid = unrelatedProcess();
    await waitUntil(() => leader.members().length === 2, 2_000, "the session leader and its child");
    const { runId } = runDir(stateDir, { watcherPid, pid: leader.pid });
    const cancelled = await manager(stateDir).cancel(runId);
    await sleep(300);
    expect(leader.members()).toHaveLength(2);
    expect(cancelled.status.state).toBe("lost");
  });

  it("keeps an older agent's watcher of this run running across an upgrade, but never signals its unverified command session", async () => {
    const stateDir = tempDir();
    const leader = sessionLeader();
    await waitUntil(() => leader.members().length === 2, 2_000, "the session leader and its child");
    const runId = newRunId();
    const dir = join(stateDir, "runs", runId);
    // What an older agent's watcher looks like in /proc: its script and its run's folder among its arguments.
    const watcherScript = fileURLToPath(new URL("../../agent/runs/run-watcher.ts", import.meta.url));
    const watcherPid = unrelatedProcess(["-e", "setInterval(() => {}, 1000)", watcherScript, dir]);
    const otherRunsWatcher = unrelatedProcess(["-e", "setInterval(() => {}, 1000)", watcherScript, `${dir}x`]);
    await waitUntil(() => identityOf(watcherPid) !== null && identityOf(otherRunsWatcher) !== null, 2_000, "the stand-in watchers");
    runDir(stateDir, { watcherPid, pid: leader.pid }, runId);
    const other = runDir(stateDir, { watcherPid: otherRunsWatcher, pid: null });
    const runs = manager(stateDir);
    expect(runs.status(runId).status.state).toBe("running");
    expect(runs.status(other.runId).status.state).toBe("lost");

    const cancelled = await cancelWithWatcher(runs, runId, dir, watcherPid);
    expect(cancelled.status.state).toBe("lost");
    await sleep(300);
    expect(leader.members()).toHaveLength(2);
  });

  it("does not signal a session whose leader is no longer the run's command, even while the watcher is verified", async () => {
    const stateDir = tempDir();
    const leader = sessionLeader();
    const watcherPid = unrelatedProcess();
    await waitUntil(() => leader.members().length === 2, 2_000, "the session leader and its child");
    const { runId, dir } = runDir(stateDir, {
      watcherPid,
      pid: leader.pid,
      bootId: bootId(),
      watcherStartTicks: identity(watcherPid).startTicks,
      pidStartTicks: identity(leader.pid).startTicks + 1,
    });
    const runs = manager(stateDir);
    expect(runs.status(runId).status.state).toBe("running");
    await cancelWithWatcher(runs, runId, dir, watcherPid);
    await sleep(300);
    expect(leader.members()).toHaveLength(2);
  });

  it("still cancels a run's own command session, reaching a process only the session ties to the run", async () => {
    const hub = new FakeHub();
    const stateDir = tempDir();
    // No cgroup, so the orphan below (no marker, no parent in the run) is found through the command's session alone.
    const agent = executor({ stateDir, cgroupParent: null });
    agent.connected(hub.send);
    const launched = await run(agent, hub, directive("run.launch", { command: "sh -c 'env -i sleep 30 & echo $!'; sleep 30" }));
    if (launched.data?.kind !== "run") throw new Error(`no run: ${launched.error}`);
    const { runId, pid } = launched.data;

    const status = readJson(runFiles(join(stateDir, "runs", runId)).status, RunStatus)!;
    expect(status).toMatchObject({
      bootId: bootId(),
      watcherStartTicks: identity(status.watcherPid!).startTicks,
      pidStartTicks: identity(pid!).startTicks,
    });
    let orphan = 0;
    while (!orphan) {
      await sleep(100);
      const result = await run(agent, hub, directive("run.status", { runId }));
      orphan = Number(result.output?.trim());
    }
    expect(processTable().find((p) => p.pid === orphan)).toMatchObject({ sid: pid });

    const result = await run(agent, hub, directive("run.cancel", { runId }));
    expect(result).toMatchObject({ success: true, data: { kind: "run_status", state: "cancelled" } });
    expect(processAlive(pid!)).toBe(false);
    await waitUntil(() => !processAlive(orphan), 2_000, "the orphan in the run's session to die");
  });
});
