import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cgroupParent, ownedCgroupParent, sweepEmptyCgroups } from "../../agent/processes/cgroup.ts";
import { directive, executor, FakeHub, run } from "./executor-harness.ts";

/**
 * Empty cgroups a crashed or killed agent left behind are removed by its next start, and only its own. The cgroup
 * tree is faked in a temporary folder: an empty cgroup is an empty folder (rmdir works), one with a process in it is
 * a folder with something in it (rmdir fails, as the kernel refuses to remove a populated cgroup).
 */

const made: string[] = [];
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function fakeTree(): string {
  const dir = mkdtempSync(join(tmpdir(), "cortex-cgroups-"));
  made.push(dir);
  return dir;
}

/** A cgroup with a process in it. */
function populated(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cgroup.procs"), "4242\n");
}

describe("sweeping empty cgroups", () => {
  it("removes the empty directive and run cgroups of its parent, and leaves those in use and anything else", () => {
    const parent = fakeTree();
    mkdirSync(join(parent, "cortex-d-lbq1-aaaa"));
    mkdirSync(join(parent, "cortex-r-lbq1-bbbb"));
    populated(join(parent, "cortex-r-lbq1-cccc"));
    mkdirSync(join(parent, "cortex-d-lbq1-dddd", "nested"), { recursive: true });
    mkdirSync(join(parent, "system.slice"));
    writeFileSync(join(parent, "cortex-not-a-cgroup"), "");
    expect(sweepEmptyCgroups(parent).sort()).toEqual(["cortex-d-lbq1-aaaa", "cortex-r-lbq1-bbbb"]);
    expect(readdirSync(parent).sort()).toEqual(["cortex-d-lbq1-dddd", "cortex-not-a-cgroup", "cortex-r-lbq1-cccc", "system.slice"]);
    expect(sweepEmptyCgroups(join(parent, "missing"))).toEqual([]);
  });

  it("refuses a folder of its name that is not a cgroup it can make cgroups in, whatever is in it", () => {
    const base = fakeTree();
    const stateDir = join(fakeTree(), "state");
    // An ordinary folder: a child made in it is no cgroup.
    expect(ownedCgroupParent(stateDir, base)).toBeNull();
    const [own] = readdirSync(base);
    expect(own).toMatch(/^cortex-agent-[0-9a-f]{16}$/);
    const parent = join(base, own!);
    // Planting the file a cgroup has does not make it one.
    writeFileSync(join(parent, "cgroup.procs"), "");
    expect(ownedCgroupParent(stateDir, base)).toBeNull();
    // A file where the folder should be.
    rmSync(parent, { recursive: true });
    writeFileSync(parent, "");
    expect(ownedCgroupParent(stateDir, base)).toBeNull();
    // No probe is left behind anywhere.
    expect(readdirSync(base)).toEqual([own]);
  });
  it("touches nothing where there is no cgroup to use", () => {
    expect(ownedCgroupParent(fakeTree(), null)).toBeNull();
  });
});

/** Where this machine lets the test make real cgroups (cgroup v2, delegated or root), as the agent's own would be. */
const REAL = cgroupParent();

describe.runIf(REAL)("an agent's own cgroup, in the machine's real cgroup tree", () => {
  const sleepers: ChildProcess[] = [];
  let base = "";

  beforeEach(() => {
    base = join(REAL!, `cortex-test-${process.pid}-${Date.now()}`);
    mkdirSync(base);
  });

  afterEach(async () => {
    for (const p of sleepers.splice(0)) {
      p.kill("SIGKILL");
      await once(p, "exit");
    }
    removeTree(base);
  });

  /** Children first: the kernel removes only empty cgroups. */
  function removeTree(dir: string): void {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(join(dir, e.name));
    rmdirSync(dir);
  }

  /** A real cgroup with a process in it. */
  async function running(dir: string): Promise<void> {
    mkdirSync(dir);
    const p = spawn("sleep", ["60"], { stdio: "ignore" });
    sleepers.push(p);
    await once(p, "spawn");
    writeFileSync(join(dir, "cgroup.procs"), String(p.pid));
  }

  it("keeps its cgroups in one of its own, sweeps only that one, and leaves no probe", async () => {
    const stateDir = join(fakeTree(), "state");
    const first = ownedCgroupParent(stateDir, base);
    expect(first).toEqual({ parent: expect.stringMatching(/\/cortex-agent-[0-9a-f]{16}$/), swept: [] });
    const parent = first!.parent;

    // What a killed earlier run of this agent left, and what belongs to others sharing the agent's cgroup.
    mkdirSync(join(parent, "cortex-d-old-1"));
    mkdirSync(join(parent, "cortex-r-old-2"));
    await running(join(parent, "cortex-r-still-running"));
    mkdirSync(join(base, "cortex-agent-0123456789abcdef"));
    mkdirSync(join(base, "cortex-agent-0123456789abcdef", "cortex-d-theirs"));
    mkdirSync(join(base, "cortex-d-unowned"));

    const again = ownedCgroupParent(stateDir, base);
    expect(again).toEqual({ parent, swept: expect.arrayContaining(["cortex-d-old-1", "cortex-r-old-2"]) });
    expect(again!.swept).toHaveLength(2);
    const cgroups = (dir: string) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect(cgroups(parent)).toEqual(["cortex-r-still-running"]);
    expect(existsSync(join(base, "cortex-agent-0123456789abcdef", "cortex-d-theirs"))).toBe(true);
    expect(existsSync(join(base, "cortex-d-unowned"))).toBe(true);
    expect(cgroups(base).filter((n) => n.startsWith("cortex-probe-"))).toEqual([]);

    // Another state folder is another agent: another cgroup of its own.
    const other = ownedCgroupParent(join(fakeTree(), "state"), base);
    expect(other?.parent).not.toBe(parent);
    expect(cgroups(base).filter((n) => n.startsWith("cortex-agent-"))).toHaveLength(3);
  });

  it("does not follow a symlink of its name into a cgroup that is not its own", () => {
    const fakeBase = fakeTree();
    const stateDir = join(fakeTree(), "state");
    expect(ownedCgroupParent(stateDir, fakeBase)).toBeNull();
    const [own] = readdirSync(fakeBase);
    rmdirSync(join(fakeBase, own!));
    // A real cgroup it could make cgroups in, were it to follow the link.
    const elsewhere = join(base, "someone-elses");
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(fakeBase, own!));
    expect(ownedCgroupParent(stateDir, fakeBase)).toBeNull();
    expect(readdirSync(elsewhere, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it("an agent that stops with nothing running removes its own cgroup", async () => {
    const stateDir = join(fakeTree(), "state");
    const agent = executor({ stateDir, cgroupParent: undefined });
    const hub = new FakeHub();
    expect((await run(agent, hub, directive("bash", { command: "echo hi" }))).success).toBe(true);
    const own = ownedCgroupParent(stateDir)!.parent;
    expect(existsSync(own)).toBe(true);
    await agent.shutdown();
    expect(existsSync(own)).toBe(false);
  });
});
