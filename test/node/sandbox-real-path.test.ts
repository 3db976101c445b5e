import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PathGuard } from "../../agent/sandbox/path-guard.ts";
import { resolveRealPath } from "../../agent/sandbox/real-path.ts";
import { removeTempDirs, tempDir } from "./executor-harness.ts";

afterEach(removeTempDirs);

describe("resolveRealPath", () => {
  it("resolves a symlinked directory even when the file under it does not exist yet", async () => {
    const target = tempDir();
    const dir = tempDir();
    symlinkSync(target, join(dir, "link"));
    expect(await resolveRealPath(join(dir, "link", "new", "file.txt"))).toBe(join(target, "new", "file.txt"));
  });

  it("climbs from a symlink's target on '..', not from the link", async () => {
    const target = tempDir();
    mkdirSync(join(target, "sub"));
    const dir = tempDir();
    symlinkSync(join(target, "sub"), join(dir, "link"));
    expect(await resolveRealPath(`${dir}/link/../x`)).toBe(join(target, "x"));
  });

  it("keeps a plain path as it is and ignores '.' and repeated slashes", async () => {
    const dir = tempDir();
    expect(await resolveRealPath(`${dir}//./a/b`)).toBe(join(dir, "a", "b"));
  });
});

describe("PathGuard.revealer", () => {
  it("hides a found file whose real path leaves the sandbox and shows one that stays inside", async () => {
    const sandbox = tempDir();
    const outside = tempDir();
    symlinkSync(outside, join(sandbox, "out"));
    mkdirSync(join(sandbox, "in"));
    const guard = new PathGuard("unprivileged", sandbox);
    const reveals = await guard.revealer({ action: "glob", params: { pattern: "*", path: sandbox, limit: 10 } });
    expect(reveals(join(sandbox, "out"))).toBe(false);
    expect(reveals(join(sandbox, "in"))).toBe(true);
    expect(reveals(join(sandbox, "missing"))).toBe(false);
  });

  it("shows everything at tier root", async () => {
    const guard = new PathGuard("root", tempDir());
    const reveals = await guard.revealer({ action: "glob", params: { pattern: "*", path: "/", limit: 10 } });
    expect(reveals("/etc/hostname")).toBe(true);
  });
});
