import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { identityOf } from "../../agent/supervisor/proc-info.ts";
import { RELAUNCH_CEILING } from "../../protocol/processes.ts";
import { supervisorFiles } from "../../agent/supervisor/supervisor-files.ts";
import { waitFor } from "../support/wait-for.ts";
import { cleanUp, config, FakeLink, marker, pidsWith, sh, supervisor, tempDir, waitForKinds } from "./supervisor-harness.ts";

const marks: string[] = [];
afterEach(() => cleanUp(marks));

function mark(): string {
  const m = marker();
  marks.push(m);
  return m;
}

const FAST_RESTART = { maxAttempts: 3, windowSeconds: 60, backoffSeconds: 0.05, maxBackoffSeconds: 0.2 };

describe("keeping a process running", () => {
  it("relaunches a crashing process with doubling backoff, then gives up when the attempts are used", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config({ name: "flaky", ...sh("sleep 0.3; exit 3", m), startupSeconds: 0.1, restart: FAST_RESTART }));

    const events = await waitForKinds(link, ["started", "crashed", "restarted", "crashed", "restarted", "crashed", "restarted", "crashed", "gave_up"], "flaky");
    const crashes = events.filter((e) => e.kind === "crashed");
    expect(crashes.map((e) => e.exitCode)).toEqual([3, 3, 3, 3]);
    expect(crashes.slice(0, 3).map((e) => e.retryInMs)).toEqual([50, 100, 200]);
    expect(crashes.slice(0, 3).map((e) => e.attempt)).toEqual([1, 2, 3]);
    expect(crashes[3]!.retryInMs).toBeUndefined();
    // Each relaunch waited at least its backoff (plus the startup time before it counted as restarted).
    for (let i = 0; i < 3; i++) {
      const restarted = events.filter((e) => e.kind === "restarted")[i]!;
      expect(restarted.at - crashes[i]!.at).toBeGreaterThanOrEqual(crashes[i]!.retryInMs! + 100);
    }
    const status = s.status().processes[0]!;
    expect(status).toMatchObject({ name: "flaky", state: "gave_up", pid: null, restarts: 3, lastExit: { kind: "crashed", code: 3 } });
    expect(pidsWith(m)).toEqual([]);
    // Given up means given up: nothing starts it again on its own.
    await new Promise((r) => setTimeout(r, 500));
    expect(link.kinds("flaky").at(-1)).toBe("gave_up");
  });

  it("gives up at the agent's own ceiling when a policy's tiny window and backoffs would relaunch a crashing process forever", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    // 100 relaunches allowed per second, 10 ms apart: the window's count never reaches 100 before it slides.
    const endless = { maxAttempts: 100, windowSeconds: 1, backoffSeconds: 0.01, maxBackoffSeconds: 0.01 };
    s.applyConfig(config({ name: "storm", ...sh("exit 1", m), startupSeconds: 0, restart: endless }));
    await waitFor("storm gave up", () => link.kinds("storm").includes("gave_up"), { timeoutMs: 15_000 });
    const gaveUp = link.events().filter((e) => e.name === "storm" && e.kind === "gave_up");
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]!.reason).toContain(`${RELAUNCH_CEILING.count} relaunches within ${RELAUNCH_CEILING.withinMs / 1000} s`);
    expect(link.kinds("storm").filter((k) => k === "restarted" || k === "started").length).toBeLessThanOrEqual(RELAUNCH_CEILING.count + 1);
    expect(s.status().processes[0]).toMatchObject({ name: "storm", state: "gave_up" });
    await new Promise((r) => setTimeout(r, 300));
    expect(link.kinds("storm").at(-1)).toBe("gave_up");
  });

  it("reports a program that cannot be spawned, and one that exits before its startup time, as failed starts", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(
      config(
        { name: "missing", command: "/nonexistent/program", restart: { ...FAST_RESTART, maxAttempts: 1 } },
        { name: "early", ...sh("exit 1", m), startupSeconds: 5, restart: { ...FAST_RESTART, maxAttempts: 0 } },
        { name: "nofolder", ...sh("sleep 5", m), cwd: "/nonexistent/folder", restart: { ...FAST_RESTART, maxAttempts: 0 } },
      ),
    );
    const missing = await waitForKinds(link, ["start_failed", "start_failed", "gave_up"], "missing");
    expect(missing[0]!.reason).toBe("program /nonexistent/program not found");
    const early = await waitForKinds(link, ["start_failed", "gave_up"], "early");
    expect(early[0]).toMatchObject({ exitCode: 1 });
    expect(early[0]!.reason).toMatch(/^ended after 0\.\d s, before its startup time of 5 s \(exit code 1\)$/);
    const nofolder = await waitForKinds(link, ["start_failed", "gave_up"], "nofolder");
    expect(nofolder[0]!.reason).toBe("working folder /nonexistent/folder does not exist");
    expect(link.kinds().filter((k) => k === "started")).toEqual([]);
  });

  it("tells an exit with code 0 (exited) from a crash, and a stop by hand from both", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config({ name: "oneshot", ...sh("sleep 0.2", m), startupSeconds: 0.05, restart: FAST_RESTART }, { name: "server", ...sh("sleep 30", m), startupSeconds: 0.05, stopGraceSeconds: 2 }));
    await waitForKinds(link, ["started", "exited", "restarted"], "oneshot");
    await waitForKinds(link, ["started"], "server");
    const pid = s.status().processes.find((p) => p.name === "server")!.pid!;

    const outcome = await s.stopByHand("server");
    expect(outcome).toMatchObject({ ok: true, status: { state: "stopped", held: "stopped", pid: null, lastExit: { kind: "stopped", signal: "SIGTERM" } } });
    expect(outcome.message).toBe(`stopped server (pid ${pid}, killed by SIGTERM)`);
    const [, stopped] = await waitForKinds(link, ["started", "stopped"], "server");
    expect(stopped).toMatchObject({ pid, cause: "request", signal: "SIGTERM" });
    // Held stopped: the supervisor does not bring it back.
    await new Promise((r) => setTimeout(r, 300));
    expect(s.status().processes.find((p) => p.name === "server")!.state).toBe("stopped");

    const started = await s.startByHand("server");
    expect(started).toMatchObject({ ok: true, status: { held: null } });
    expect(started.status.pid).not.toBe(pid);
    await waitForKinds(link, ["started", "stopped", "started"], "server");
    const restarted = await s.restartByHand("server");
    expect(restarted.ok).toBe(true);
    await waitForKinds(link, ["started", "stopped", "started", "stopped", "restarted"], "server");
    expect(s.status().processes.find((p) => p.name === "server")).toMatchObject({ state: "running", restarts: 1 });
  });

  it("escalates to SIGKILL when the process ignores its stop signal past the grace period", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config({ name: "stubborn", ...sh("trap '' TERM; while :; do sleep 0.05; done", m), startupSeconds: 0.05, stopGraceSeconds: 0.3 }));
    await waitForKinds(link, ["started"], "stubborn");
    const begun = Date.now();
    const outcome = await s.stopByHand("stubborn");
    expect(Date.now() - begun).toBeGreaterThanOrEqual(300);
    expect(outcome.status.lastExit).toMatchObject({ kind: "stopped", signal: "SIGKILL" });
    expect(pidsWith(m)).toEqual([]);
  });

  it("replaces a running instance when the command changes, and leaves it alone when only the launch settings change", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config({ name: "web", ...sh("sleep 30", m), startupSeconds: 0.05 }));
    await waitForKinds(link, ["started"], "web");
    const first = s.status().processes[0]!.pid;
    s.applyConfig(config({ name: "web", ...sh("sleep 30", m), startupSeconds: 0.05, restart: { ...FAST_RESTART, maxAttempts: 9 } }));
    await new Promise((r) => setTimeout(r, 300));
    expect(s.status().processes[0]!.pid).toBe(first);
    s.applyConfig(config({ name: "web", ...sh("sleep 31", m), startupSeconds: 0.05 }));
    const events = await waitForKinds(link, ["started", "stopped", "restarted"], "web");
    expect(events[1]).toMatchObject({ cause: "config", pid: first });
    expect(s.status().processes[0]!.pid).not.toBe(first);
    // Removing it stops it and forgets it.
    s.applyConfig(config());
    await waitForKinds(link, ["started", "stopped", "restarted", "stopped"], "web");
    await waitFor("no process left", () => pidsWith(m).length === 0);
    expect(s.status().processes).toEqual([]);
  });

  it("stops a process removed while it was being started, instead of leaving it running unsupervised", async () => {
    const m = mark();
    const s = supervisor();
    s.start();
    s.applyConfig(config({ name: "racer", ...sh("sleep 30", m), startupSeconds: 0 }));
    // The list is applied and the launch begun in the same turn; the removal comes before the spawn is done.
    s.applyConfig(config());
    await waitFor("the status gone", () => s.status().processes.length === 0);
    await waitFor("no instance left", () => pidsWith(m).length === 0);
    await new Promise((r) => setTimeout(r, 300));
    expect(pidsWith(m)).toEqual([]);
  });

  it("ignores a process list older than the one in force", () => {
    const s = supervisor();
    s.start();
    const newer = config({ name: "a", command: "/bin/true", launchMode: "off" });
    const older = { ...config({ name: "b", command: "/bin/true", launchMode: "off" }), version: newer.version - 1 };
    expect(s.applyConfig(newer)).toBe(true);
    expect(s.applyConfig(older)).toBe(false);
    expect(s.applyConfig(newer)).toBe(false);
    expect(s.status().processes.map((p) => p.name)).toEqual(["a"]);
    expect(s.configVersion).toBe(newer.version);
  });
});

describe("an agent that restarts", () => {
  it("adopts the processes still running (same PID, no new start) and starts the missing ones", async () => {
    const m = mark();
    const dir = tempDir();
    const link = new FakeLink();
    const first = supervisor({ dir });
    first.connected(link.send);
    first.start();
    first.applyConfig(config({ name: "api", ...sh("sleep 30", m), startupSeconds: 0.05 }, { name: "worker", ...sh("sleep 30", m), startupSeconds: 0.05 }));
    await waitForKinds(link, ["started"], "api");
    await waitForKinds(link, ["started"], "worker");
    const before = Object.fromEntries(first.status().processes.map((p) => [p.name, p.pid]));
    first.acknowledged(link.events().map((e) => e.id));
    first.close();

    // The worker dies while no agent is watching.
    process.kill(-before.worker!, "SIGKILL");
    await waitFor("worker gone", () => identityOf(before.worker!) === null);

    const second = supervisor({ dir });
    const link2 = new FakeLink();
    second.connected(link2.send);
    second.start();
    await waitForKinds(link2, ["crashed", "restarted"], "worker");
    const after = Object.fromEntries(second.status().processes.map((p) => [p.name, p]));
    expect(after.api).toMatchObject({ pid: before.api, state: "running" });
    expect(after.worker!.pid).not.toBe(before.worker);
    expect(link2.events().find((e) => e.name === "worker" && e.kind === "crashed")).toMatchObject({ pid: before.worker, exitCode: null, reason: expect.stringContaining("exit status unknown") });
    expect(link2.kinds("api")).toEqual([]);
    // Exactly one instance of each: two shells tagged with the marker.
    expect(pidsWith(m)).toHaveLength(2);

    // An adopted process is still supervised: killed, it is noticed and relaunched.
    process.kill(-before.api!, "SIGKILL");
    await waitForKinds(link2, ["crashed", "restarted"], "api");
    expect(second.status().processes.find((p) => p.name === "api")!.pid).not.toBe(before.api);
  });

  it("does not adopt (or signal) a process that merely has the recorded PID: the start time differs", async () => {
    const m = mark();
    const dir = tempDir();
    const link0 = new FakeLink();
    const first = supervisor({ dir });
    first.connected(link0.send);
    first.start();
    first.applyConfig(config({ name: "svc", ...sh("sleep 30", m), startupSeconds: 0 }));
    await waitFor("svc running", () => first.status().processes[0]?.state === "running");
    first.acknowledged(link0.events().map((e) => e.id));
    first.close();
    const recorded = first.status().processes[0]!.pid!;
    process.kill(-recorded, "SIGKILL");
    await waitFor("svc gone", () => identityOf(recorded) === null);

    // Another process now holds a PID the state file names (as a recycled PID would): the test runner itself.
    const file = supervisorFiles(dir).state;
    const state = JSON.parse(readFileSync(file, "utf8"));
    const own = identityOf(process.pid)!;
    state.svc.identity = { ...own, startTicks: own.startTicks + 12345 };
    writeFileSync(file, JSON.stringify(state));

    const link = new FakeLink();
    const second = supervisor({ dir });
    second.connected(link.send);
    second.start();
    await waitForKinds(link, ["crashed", "restarted"], "svc");
    const now = second.status().processes[0]!;
    expect(now.pid).not.toBe(process.pid);
    expect(now.state).toBe("running");
    expect(identityOf(process.pid)).not.toBeNull();
  });
});

describe("output", () => {
  it("goes to a log that is rotated at its cap, keeping the configured number of copies", async () => {
    const m = mark();
    const dir = tempDir();
    const s = supervisor({ dir, tickMs: 20 });
    s.start();
    // 200 lines of 100 bytes (20 KB) against a 4 KiB cap with 2 copies kept.
    const script = `i=0; while [ $i -lt 200 ]; do printf '%099d\\n' $i; i=$((i+1)); sleep 0.005; done; echo done-writing; sleep 30`;
    s.applyConfig(config({ name: "chatty", ...sh(script, m), startupSeconds: 0, log: { maxBytes: 4096, keep: 2 } }));
    const logs = supervisorFiles(dir).logs;
    await waitFor("the program finished writing", () => s.logs("chatty", 1) === "done-writing\n", { timeoutMs: 15_000 });
    s.tick();
    expect(statSync(join(logs, "chatty.log")).size).toBeLessThan(4096 + 2000);
    expect(statSync(join(logs, "chatty.log.1")).size).toBeGreaterThanOrEqual(4096);
    expect(existsSync(join(logs, "chatty.log.2"))).toBe(true);
    expect(existsSync(join(logs, "chatty.log.3"))).toBe(false);
    const tail = s.logs("chatty", 3).split("\n");
    expect(tail.slice(0, 3)).toEqual(["198".padStart(99, "0"), "199".padStart(99, "0"), "done-writing"]);
  });
});

describe("events", () => {
  it("are queued on disk while the hub is unreachable and delivered once after reconnecting, even across an agent restart", async () => {
    const m = mark();
    const dir = tempDir();
    const link = new FakeLink();
    link.online = false;
    const first = supervisor({ dir });
    first.connected(link.send);
    first.start();
    first.applyConfig(config({ name: "job", ...sh("sleep 0.2; exit 7", m), startupSeconds: 0.05, restart: { ...FAST_RESTART, maxAttempts: 1 } }));
    await waitFor("gave up", () => first.status().processes[0]?.state === "gave_up");
    expect(link.frames).toEqual([]);
    expect(first.queuedEvents).toBe(5);
    first.close();

    const second = supervisor({ dir });
    second.start();
    link.online = true;
    second.connected(link.send);
    expect(link.kinds("job")).toEqual(["started", "crashed", "restarted", "crashed", "gave_up"]);
    const ids = link.events().map((e) => e.id);
    expect(new Set(ids).size).toBe(5);

    // Not acknowledged: sent again on the next connection. Acknowledged: never again.
    second.connected(link.send);
    expect(link.received()).toHaveLength(10);
    second.acknowledged(ids);
    second.connected(link.send);
    expect(link.received()).toHaveLength(10);
    expect(second.queuedEvents).toBe(0);
  });
});

describe("at rest", () => {
  it("sets no timer while it supervises nothing, starts looking once a process list arrives, stops when it is emptied", async () => {
    vi.useFakeTimers();
    try {
      const s = supervisor();
      s.start();
      expect(vi.getTimerCount()).toBe(0);
      s.applyConfig(config({ name: "idle", command: "/bin/true", launchMode: "off" }));
      expect(vi.getTimerCount()).toBe(1);
      s.applyConfig(config());
      // The removed process is forgotten once its (absent) instance is settled; the next look finds nothing to watch.
      await vi.advanceTimersByTimeAsync(200);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
