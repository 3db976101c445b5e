import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait-for.ts";
import { cleanUp, config, FakeLink, marker, pidsWith, supervisor, tempDir, waitForKinds } from "./supervisor-harness.ts";

const marks: string[] = [];
afterEach(() => {
  // What escaped its process group carries the mark in its environment only (a sleep's command line cannot).
  for (const m of marks) for (const pid of pidsWithEnv(m)) kill(pid);
  cleanUp(marks);
});

function mark(): string {
  const m = marker();
  marks.push(m);
  return m;
}

function kill(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone already.
  }
}

/** Live processes whose environment holds MARK=<mark>: every process of an instance, whatever group or session. */
function pidsWithEnv(mark: string): number[] {
  const needle = Buffer.from(`MARK=${mark}\0`);
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      if (/^[ZX]$/.test(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] ?? "")) continue;
      if (readFileSync(`/proc/${name}/environ`).includes(needle)) found.push(Number(name));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return found;
}

/**
 * A process whose shell starts a grandchild in a session of its own (setsid), out of its process group, then runs
 * `main`. The grandchild's $0 carries `<mark>-escaped`, so it can be told from the instance's other processes.
 */
function escaping(name: string, m: string, main: string) {
  return {
    name,
    command: "/bin/sh",
    // "$0-escaped" rather than the mark spelled out, so that only the grandchild's command line holds it.
    args: ["-c", `setsid sh -c 'sleep 300; true' "$0-escaped" & ${main}; true`, m],
    env: { MARK: m },
    startupSeconds: 0.1,
  };
}

async function escaped(m: string): Promise<number> {
  await waitFor("the setsid grandchild", () => pidsWith(`${m}-escaped`).length === 1, { timeoutMs: 5_000 });
  return pidsWith(`${m}-escaped`)[0]!;
}

describe("the processes a supervised program started outside its process group", () => {
  it("are stopped with it by a stop by hand", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config(escaping("daemonising", m, "sleep 300")));
    await waitForKinds(link, ["started"], "daemonising");
    await escaped(m);

    const outcome = await s.stopByHand("daemonising");
    expect(outcome).toMatchObject({ ok: true, status: { state: "stopped" } });
    expect(pidsWithEnv(m)).toEqual([]);
  });

  it("are killed when the main process ends on its own", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config({ ...escaping("crashing", m, "sleep 0.5; exit 3"), restart: { maxAttempts: 0, windowSeconds: 60, backoffSeconds: 1, maxBackoffSeconds: 1 } }));
    await waitForKinds(link, ["started"], "crashing");
    await escaped(m);

    await waitForKinds(link, ["started", "crashed", "gave_up"], "crashing");
    await waitFor("nothing of the crashed instance left", () => pidsWithEnv(m).length === 0, { timeoutMs: 3_000 });
  });

  it("do not outlive their instance across a restart by hand, and a removal", async () => {
    const m = mark();
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config(escaping("restarted", m, "sleep 300")));
    await waitForKinds(link, ["started"], "restarted");
    const first = await escaped(m);

    const outcome = await s.restartByHand("restarted");
    expect(outcome.ok).toBe(true);
    const second = await escaped(m);
    expect(second).not.toBe(first);
    expect(pidsWith(`${m}-escaped`)).toEqual([second]);

    s.applyConfig(config());
    await waitFor("nothing of the removed process left", () => pidsWithEnv(m).length === 0, { timeoutMs: 5_000 });
  });

  it("are stopped by an agent that adopted the instance after a restart", async () => {
    const m = mark();
    const dir = tempDir();
    const link = new FakeLink();
    const before = supervisor({ dir });
    before.connected(link.send);
    before.start();
    before.applyConfig(config(escaping("adopted", m, "sleep 300")));
    await waitForKinds(link, ["started"], "adopted");
    await escaped(m);
    before.close();

    const after = supervisor({ dir });
    after.start();
    expect(after.status().processes[0]).toMatchObject({ name: "adopted", state: "running" });
    const outcome = await after.stopByHand("adopted");
    expect(outcome).toMatchObject({ ok: true, status: { state: "stopped" } });
    expect(pidsWithEnv(m)).toEqual([]);
  });
});
