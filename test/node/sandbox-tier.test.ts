import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { StartupError } from "../../agent/privilege/startup-error.ts";
import { directive, executor, FakeHub, isolateHome, cleanUp, run, sandboxDir, tempDir } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

/** A sandbox with a file inside, a file outside, and symlinks inside pointing at both. */
function layout() {
  const sandbox = sandboxDir();
  const outside = tempDir("cortex-outside-");
  writeFileSync(join(sandbox, "inside.txt"), "needle inside\n");
  writeFileSync(join(outside, "secret.txt"), "needle secret\n");
  symlinkSync(join(outside, "secret.txt"), join(sandbox, "secret-link.txt"));
  symlinkSync(outside, join(sandbox, "outside-dir"));
  symlinkSync(join(sandbox, "inside.txt"), join(sandbox, "inside-link.txt"));
  return { sandbox, outside };
}

async function attempt(tier: CapabilityTier, sandboxRoot: string, action: Parameters<typeof directive>[0], params: Record<string, unknown>) {
  return run(executor({ tier, sandboxRoot }), new FakeHub(), directive(action, params));
}

describe("tier unprivileged, enforced by the agent", () => {
  it("refuses bash", async () => {
    const { sandbox } = layout();
    const result = await attempt("unprivileged", sandbox, "bash", { command: "echo hi" });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(result.error).toContain("not allowed at tier unprivileged");
  });

  it("reads inside the sandbox, including through a symlink that stays inside", async () => {
    const { sandbox } = layout();
    expect(await attempt("unprivileged", sandbox, "read", { path: join(sandbox, "inside.txt") })).toMatchObject({ success: true });
    expect(await attempt("unprivileged", sandbox, "read", { path: join(sandbox, "inside-link.txt") })).toMatchObject({ success: true });
  });

  it("refuses to read outside the sandbox", async () => {
    const { sandbox, outside } = layout();
    const result = await attempt("unprivileged", sandbox, "read", { path: join(outside, "secret.txt") });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(result.error).toContain("outside the sandbox");
  });

  it("refuses a '..' escape out of the sandbox", async () => {
    const { sandbox, outside } = layout();
    const escape = `${sandbox}/../${outside.split("/").at(-1)}/secret.txt`;
    expect(await attempt("unprivileged", sandbox, "read", { path: escape })).toMatchObject({ errorCode: "tier_refused" });
  });

  it("refuses to read through a symlink inside the sandbox that points outside", async () => {
    const { sandbox } = layout();
    const result = await attempt("unprivileged", sandbox, "read", { path: join(sandbox, "secret-link.txt") });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(result.output).not.toContain("secret");
    const viaDir = await attempt("unprivileged", sandbox, "read", { path: join(sandbox, "outside-dir", "secret.txt") });
    expect(viaDir).toMatchObject({ errorCode: "tier_refused" });
  });

  it("climbs from a symlink's target on '..', as the kernel does", async () => {
    const { sandbox, outside } = layout();
    mkdirSync(join(outside, "sub"));
    symlinkSync(join(outside, "sub"), join(sandbox, "sub-link"));
    const result = await attempt("unprivileged", sandbox, "read", { path: `${sandbox}/sub-link/../secret.txt` });
    expect(result).toMatchObject({ errorCode: "tier_refused" });
  });

  it("never lists or searches files whose real path is outside the sandbox", async () => {
    const { sandbox } = layout();
    const glob = await attempt("unprivileged", sandbox, "glob", { pattern: "**/*", path: sandbox });
    expect(glob.output.split("\n").sort()).toEqual([join(sandbox, "inside.txt")]);
    for (const grep of ["auto", "builtin"] as const) {
      const result = await run(executor({ tier: "unprivileged", sandboxRoot: sandbox, grep }), new FakeHub(), directive("grep", { pattern: "needle", path: sandbox }));
      expect(result.output).toBe(`${join(sandbox, "inside.txt")}:1:needle inside`);
    }
    const throughLink = await attempt("unprivileged", sandbox, "glob", { pattern: "*", path: join(sandbox, "outside-dir") });
    expect(throughLink).toMatchObject({ errorCode: "tier_refused" });
  });

  it("refuses to start with a sandbox root that is a symlink, even to the real sandbox", async () => {
    const { sandbox } = layout();
    const alias = join(tempDir(), "alias");
    symlinkSync(sandbox, alias);
    expect(() => executor({ tier: "unprivileged", sandboxRoot: alias })).toThrow(StartupError);
    expect(() => executor({ tier: "unprivileged", sandboxRoot: alias })).toThrow(/is a symlink/);
  });
});

describe("tier sudo, enforced by the agent", () => {
  it("refuses a write under /etc, creating nothing", async () => {
    const result = await attempt("sudo", join(tempDir(), "sandbox"), "write", { path: "/etc/cortex-test-should-not-exist/x", content: "x" });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(result.error).toContain("/etc");
    expect(existsSync("/etc/cortex-test-should-not-exist")).toBe(false);
  });

  it("refuses a write to a new file under a symlink that leads into /etc", async () => {
    const dir = tempDir();
    symlinkSync("/etc", join(dir, "etc-link"));
    const result = await attempt("sudo", join(tempDir(), "sandbox"), "write", { path: join(dir, "etc-link", "cortex-test-new", "x"), content: "x" });
    expect(result).toMatchObject({ errorCode: "tier_refused" });
    expect(existsSync("/etc/cortex-test-new")).toBe(false);
  });

  it("refuses sudo for anything but the package managers", async () => {
    const result = await attempt("sudo", join(tempDir(), "sandbox"), "bash", { command: "sudo rm -rf /tmp/nothing-here" });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(result.error).toContain('got "sudo rm"');
    expect(await attempt("sudo", join(tempDir(), "sandbox"), "bash", { command: "su - root -c id" })).toMatchObject({ errorCode: "tier_refused" });
  });

  it("lets an allowed sudo apt-get through the policy (the shell never reaches it here)", async () => {
    const result = await attempt("sudo", join(tempDir(), "sandbox"), "bash", { command: "true || sudo apt-get install -y nothing; echo allowed" });
    expect(result).toMatchObject({ success: true, output: "allowed\n" });
  });

  it("refuses a working directory under a forbidden root", async () => {
    expect(await attempt("sudo", join(tempDir(), "sandbox"), "bash", { command: "pwd", cwd: "/etc" })).toMatchObject({ errorCode: "tier_refused" });
  });
});

describe("tier root", () => {
  it("is allowed everything the lower tiers are refused", async () => {
    expect(await attempt("root", join(tempDir(), "sandbox"), "read", { path: "/etc/hostname" })).toMatchObject({ success: true });
    expect(await attempt("root", join(tempDir(), "sandbox"), "bash", { command: "true || sudo rm -rf /nothing; pwd", cwd: "/etc" })).toMatchObject({
      success: true,
      output: "/etc\n",
    });
  });
});
