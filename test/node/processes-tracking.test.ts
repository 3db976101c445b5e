import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DirectiveExecutor } from "../../agent/directives/directive-executor.ts";
import { cgroupParent } from "../../agent/processes/cgroup.ts";
import { cleanUp, directive, executor, FakeHub, isolateHome, processAlive, run, silentLog, tempDir, waitUntil } from "./executor-harness.ts";

/**
 * Cancel and timeouts reach every process a directive started, also those that left its process group: by cgroup
 * where the machine allows one, else by session, descendants and the inherited marker.
 */

isolateHome();
afterEach(cleanUp);

const CGROUP = cgroupParent();

/** Processes whose command line is exactly `command` (arguments separated by single spaces). */
function pidsWith(command: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0$/, "").split("\0").join(" ") === command;
      } catch {
        return false;
      }
    })
    .map(Number)
    .filter(processAlive);
}

let serial = 0;
/** A `sleep` with a duration no other process has, so it can be found in the process table. */
function tag(): string {
  return `${4000 + (process.pid % 1000)}.${++serial}${Date.now() % 1000}`;
}

const ESCAPES = {
  "setsid sleep": (t: string) => `setsid sleep ${t} & echo started; sleep 60`,
  "nohup double fork": (t: string) => `( nohup sleep ${t} >/dev/null 2>&1 & ) ; echo started; sleep 60`,
  "a child in its own process group": (t: string) => `set -m; sleep ${t} & echo started; sleep 60`,
  "a child that cleared its environment and left the session": (t: string) => `setsid env -i sleep ${t} & echo started; sleep 60`,
} as const;

const MODES = [
  { mode: "session, descendants and marker", cgroupParent: null },
  ...(CGROUP ? [{ mode: "cgroup v2", cgroupParent: CGROUP }] : []),
] as const;

describe.each(MODES)("tracking by $mode", ({ cgroupParent: parent }) => {
  for (const [name, command] of Object.entries(ESCAPES)) {
    // Without a cgroup, a process that both clears its environment and leaves the session is found only while it is
    // still a descendant; it is, here, because the shell that started it is still running.
    it(`cancel stops ${name}`, async () => {
      const t = tag();
      const agent = executor({ cgroupParent: parent });
      const hub = new FakeHub();
      const message = directive("bash", { command: command(t) });
      agent.run(message, hub.send);
      await waitUntil(() => pidsWith(`sleep ${t}`).length > 0, 10_000, "the escaped sleep");
      agent.cancel(message.id);
      expect(await hub.result(message.id)).toMatchObject({ errorCode: "cancelled" });
      expect(pidsWith(`sleep ${t}`)).toEqual([]);
    });
  }

  it("a timeout stops a setsid child too", async () => {
    const t = tag();
    const agent = executor({ cgroupParent: parent });
    const result = await run(agent, new FakeHub(), directive("bash", { command: `setsid sleep ${t} & sleep 60`, timeoutMs: 700 }));
    expect(result).toMatchObject({ errorCode: "timeout" });
    expect(pidsWith(`sleep ${t}`)).toEqual([]);
  });

  it("an agent started after a crash stops what the directives it was running left behind", async () => {
    const t = tag();
    const stateDir = join(tempDir(), "state");
    const crashed = executor({ cgroupParent: parent, stateDir });
    const message = directive("bash", { command: `setsid sleep ${t} & ( nohup sleep ${t}1 >/dev/null 2>&1 & ); sleep 60` });
    crashed.run(message, new FakeHub().send);
    await waitUntil(() => pidsWith(`sleep ${t}`).length + pidsWith(`sleep ${t}1`).length >= 2, 10_000, "the sleeps");
    // The first agent is never told anything, as if killed -9; a new one starts on the same state folder.
    const restarted = new DirectiveExecutor({ tier: "root", sandboxRoot: join(tempDir(), "sandbox"), log: silentLog, killGraceMs: 100, stateDir, cgroupParent: parent });
    await restarted.check();
    expect([...pidsWith(`sleep ${t}`), ...pidsWith(`sleep ${t}1`)]).toEqual([]);
    await restarted.shutdown();
  });
});
