import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ownedCgroupParent, sweepEmptyCgroups } from "../../agent/processes/cgroup.ts";

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

  it("an agent with a state folder keeps its cgroups in one of its own and sweeps only that one", () => {
    const base = fakeTree();
    const stateDir = join(fakeTree(), "state");
    // Not a cgroup (no cgroup.procs): refused, nothing used.
    expect(ownedCgroupParent(stateDir, base)).toBeNull();
    const [own] = readdirSync(base);
    expect(own).toMatch(/^cortex-agent-[0-9a-f]{16}$/);
    const parent = join(base, own!);
    writeFileSync(join(parent, "cgroup.procs"), "");

    // What a killed earlier run of this agent left, and what belongs to others sharing the agent's cgroup.
    mkdirSync(join(parent, "cortex-d-old-1"));
    mkdirSync(join(parent, "cortex-r-old-2"));
    populated(join(parent, "cortex-r-still-running"));
    mkdirSync(join(base, "cortex-agent-0123456789abcdef", "cortex-d-theirs"), { recursive: true });
    mkdirSync(join(base, "cortex-d-unowned"));

    const again = ownedCgroupParent(stateDir, base);
    expect(again).toEqual({ parent, swept: expect.arrayContaining(["cortex-d-old-1", "cortex-r-old-2"]) });
    expect(again!.swept).toHaveLength(2);
    expect(readdirSync(parent).sort()).toEqual(["cgroup.procs", "cortex-r-still-running"]);
    expect(existsSync(join(base, "cortex-agent-0123456789abcdef", "cortex-d-theirs"))).toBe(true);
    expect(existsSync(join(base, "cortex-d-unowned"))).toBe(true);

    // Another state folder is another agent: another cgroup of its own.
    const other = ownedCgroupParent(join(fakeTree(), "state"), base);
    expect(other).toBeNull();
    expect(readdirSync(base).filter((n) => n.startsWith("cortex-agent-"))).toHaveLength(3);
  });

  it("touches nothing where there is no cgroup to use", () => {
    expect(ownedCgroupParent(fakeTree(), null)).toBeNull();
  });
});
