import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkPrefix } from "../../agent/install/prefix-check.ts";
import { emptyDir } from "./cli-run.ts";

const uid = process.getuid!();
const root = uid === 0;

describe("checkPrefix", () => {
  it("accepts a new folder under folders only this user or root may change, and an existing one of this user", () => {
    const dir = emptyDir();
    expect(checkPrefix(join(dir, "a", "b", "cortex"), uid)).toEqual({ exists: false });
    mkdirSync(join(dir, "cortex"), { mode: 0o755 });
    expect(checkPrefix(join(dir, "cortex"), uid)).toEqual({ exists: true });
  });

  it("refuses paths that are not absolute and normalised, and /", () => {
    for (const bad of ["opt/cortex", "/opt/../opt/cortex", "/opt/cortex/", "/"]) expect(() => checkPrefix(bad, uid), bad).toThrow(/must be an absolute, normalised/);
  });

  it("refuses a symlinked prefix, even to a good folder", () => {
    const dir = emptyDir();
    mkdirSync(join(dir, "real"), { mode: 0o755 });
    symlinkSync(join(dir, "real"), join(dir, "cortex"));
    expect(() => checkPrefix(join(dir, "cortex"), uid)).toThrow(`refusing to install into ${join(dir, "cortex")}: it is a symbolic link`);
  });

  it("refuses a prefix that is a file, or that group or others may write", () => {
    const dir = emptyDir();
    writeFileSync(join(dir, "file"), "");
    expect(() => checkPrefix(join(dir, "file"), uid)).toThrow("it is not a folder");
    mkdirSync(join(dir, "loose"));
    chmodSync(join(dir, "loose"), 0o775);
    expect(() => checkPrefix(join(dir, "loose"), uid)).toThrow(`refusing to install into ${join(dir, "loose")}: it is writable by its group (mode 0775)`);
  });

  it("refuses a folder above the prefix that others may write, unless sticky like /tmp", () => {
    const dir = emptyDir();
    mkdirSync(join(dir, "shared"));
    chmodSync(join(dir, "shared"), 0o777);
    expect(() => checkPrefix(join(dir, "shared", "cortex"), uid)).toThrow(`refusing to install under ${join(dir, "shared")}: it is writable by its group (mode 0777)`);
    chmodSync(join(dir, "shared"), 0o1777);
    expect(checkPrefix(join(dir, "shared", "cortex"), uid)).toEqual({ exists: false });
  });

  it.skipIf(!root)("refuses a prefix, or a folder above it, owned by another user (as root; skipped otherwise: only root can give a folder away)", () => {
    const dir = emptyDir();
    mkdirSync(join(dir, "theirs"), { mode: 0o755 });
    chownSync(join(dir, "theirs"), 65534, 65534);
    expect(() => checkPrefix(join(dir, "theirs"), 0)).toThrow(`refusing to install into ${join(dir, "theirs")}: it is owned by uid 65534`);
    expect(() => checkPrefix(join(dir, "theirs", "cortex"), 0)).toThrow(`refusing to install under ${join(dir, "theirs")}: it is owned by uid 65534`);
  });
});
