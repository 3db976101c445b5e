import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { ProcessSupervisor } from "../../agent/supervisor/process-supervisor.ts";
import type { ProcessStatus } from "../../protocol/processes.ts";
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

/** The process group of a live process (field 5 of /proc/<pid>/stat). */
function groupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/** Asks for status reports until the one of `name` passes `ok`; on timeout, says what the last one held. */
async function reportUntil(s: ProcessSupervisor, name: string, what: string, ok: (p: ProcessStatus) => boolean): Promise<ProcessStatus> {
  let last: ProcessStatus | undefined;
  try {
    return await waitFor(what, () => {
      last = s.status().processes.find((p) => p.name === name);
      return last !== undefined && ok(last) && last;
    }, { timeoutMs: 15_000, intervalMs: 500 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; last report: ${JSON.stringify(last)}`);
  }
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

  it("count in the CPU and memory its status reports", async () => {
    const m = mark();
    const heldBytes = 64 * 1024 * 1024;
    const node = JSON.stringify(process.execPath);
    // Each in a session of its own, as a daemon would be; the buffer is filled, so its pages are resident.
    const holding = `setsid ${node} -e 'const b = Buffer.alloc(${heldBytes}, 1); setInterval(() => b[0]++, 60000)' "$0-holding"`;
    const spinning = `setsid ${node} -e 'for (;;);' "$0-spinning"`;
    const link = new FakeLink();
    const s = supervisor();
    s.connected(link.send);
    s.start();
    s.applyConfig(config({ name: "heavy", command: "/bin/sh", args: ["-c", `${holding} & ${spinning} & sleep 300; true`, m], env: { MARK: m }, startupSeconds: 0.1 }));
    await waitForKinds(link, ["started"], "heavy");
    const escapees = await waitFor("both escaped children", () => {
      const found = [...pidsWith(`${m}-holding`), ...pidsWith(`${m}-spinning`)];
      return found.length === 2 && found;
    }, { timeoutMs: 5_000 });
    const main = s.status().processes[0]!.pid!;
    expect(escapees.map(groupOf)).not.toContain(main);

    await reportUntil(s, "heavy", `at least ${heldBytes} bytes resident`, (p) => (p.memoryBytes ?? 0) >= heldBytes);
    await reportUntil(s, "heavy", "the spinning child's CPU", (p) => (p.cpuPercent ?? 0) >= 20);
  });
});
