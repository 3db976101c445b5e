import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { processTable } from "../../agent/processes/proc-table.ts";
import { REPO_ROOT } from "../support/test-hub.ts";

/**
 * The process table tracking relies on: which processes are the kernel's own threads (never members, their
 * environment never read) is the kernel's flag, not a pid: in a PID namespace pid 2 is an ordinary process, and the
 * orphans it adopts (a subreaper's) must still be found by their marker.
 */

const LINUX = process.platform === "linux";
const KTHREADD = LINUX && existsSync("/proc/2/comm") && readFileSync("/proc/2/comm", "utf8").trim() === "kthreadd";
/** Root may make a PID namespace with its own /proc here; elsewhere the namespace case cannot run. */
const NAMESPACES = LINUX && process.getuid?.() === 0 && spawnSync("unshare", ["-pf", "--mount-proc", "true"]).status === 0;

describe("the process table", () => {
  it.runIf(KTHREADD)("marks the kernel's threads as such, and none of this test's processes", () => {
    const table = processTable();
    expect(table.find((p) => p.pid === 2)?.kernelThread).toBe(true);
    expect(table.filter((p) => p.ppid === 2).every((p) => p.kernelThread)).toBe(true);
    expect(table.find((p) => p.pid === process.pid)?.kernelThread).toBe(false);
  });

  it.runIf(NAMESPACES)("in a PID namespace, finds by its marker a process whose parent is pid 2 there", () => {
    const marker = `pidns-${process.pid}`;
    const probe = [
      `import { processTable } from ${JSON.stringify(join(REPO_ROOT, "agent/processes/proc-table.ts"))};`,
      `import { membersOfSets } from ${JSON.stringify(join(REPO_ROOT, "agent/processes/tracked-processes.ts"))};`,
      `const sets = new Map([["set", { tracking: { marker: ${JSON.stringify(marker)}, cgroup: null }, sessions: new Set() }]]);`,
      `console.log(JSON.stringify({ table: processTable(), members: membersOfSets(sets, "TEST_MARK").get("set") }));`,
    ].join("\n");
    // pid 1 is the outer shell, pid 2 the inner one, and the marked `sleep` its child.
    const script = `/bin/sh -c 'TEST_MARK=${marker} exec sleep 30 & wait' & sleep 0.3; exec "$0" --import tsx --input-type=module -e "$1"`;
    const out = spawnSync("unshare", ["-pf", "--kill-child", "--mount-proc", "/bin/sh", "-c", script, process.execPath, probe], { cwd: REPO_ROOT, encoding: "utf8", timeout: 30_000 });
    expect(out.status, out.stderr).toBe(0);
    const { table, members } = JSON.parse(out.stdout) as { table: { pid: number; ppid: number; kernelThread: boolean }[]; members: number[] };
    const marked = table.find((p) => p.ppid === 2);
    expect(marked).toMatchObject({ kernelThread: false });
    expect(members).toEqual([marked!.pid]);
  });
});
