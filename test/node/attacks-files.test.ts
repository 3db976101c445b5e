import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StartupError } from "../../agent/privilege/startup-error.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { IS_ROOT, NOT_ROOT_REASON } from "../support/action-user.ts";
import { swapSymlink } from "../support/symlink-swapper.ts";
import { cleanUp, directive, executor, FakeHub, run, sandboxDir, tempDir } from "./executor-harness.ts";

/**
 * Attacks on the file actions through path tricks. Each one got through when the agent checked a path string and
 * then opened it; now the real path of what is opened decides.
 */

afterEach(cleanUp);

const unique = (name: string) => `cortex-attack-${name}-${process.pid}-${Date.now().toString(36)}`;

async function attempt(tier: CapabilityTier, sandboxRoot: string, action: Parameters<typeof directive>[0], params: Record<string, unknown>, extra = {}) {
  return run(executor({ tier, sandboxRoot }), new FakeHub(), directive(action, params, extra));
}

describe("reads on an unprivileged node", () => {
  it("refuses <sandbox>/missing/../link-to-passwd, which a lexical check saw as inside the sandbox", async () => {
    const sandbox = sandboxDir();
    symlinkSync("/etc/passwd", join(sandbox, "link-to-passwd"));
    const result = await attempt("unprivileged", sandbox, "read", { path: `${sandbox}/missing/../link-to-passwd` });
    expect(result.success).toBe(false);
    expect(result.output).not.toContain("root:");
    const direct = await attempt("unprivileged", sandbox, "read", { path: join(sandbox, "link-to-passwd") });
    expect(direct).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(direct.output).not.toContain("root:");
  });

  it("refuses to start with --sandbox pointing at a symlink to /", () => {
    const link = join(tempDir(), "sandbox");
    symlinkSync("/", link);
    expect(() => executor({ tier: "unprivileged", sandboxRoot: link })).toThrow(StartupError);
  });

  it("refuses a sandbox open to other users, and never changes an existing folder's mode", () => {
    const open = tempDir();
    expect(() => executor({ tier: "root", sandboxRoot: open })).toThrow(/is open to other users \(mode 755\)/);
    expect(statSync(open).mode & 0o777).toBe(0o755);
  });

  it("creates its sandbox owned by the action user, mode 0700", () => {
    const root = join(tempDir(), "new-sandbox");
    const agent = executor({ tier: "unprivileged", sandboxRoot: root });
    const info = statSync(root);
    expect(info.mode & 0o777).toBe(0o700);
    expect(info.uid).toBe(agent.user.uid);
  });
});

describe("writes on a sudo node", () => {
  it("refuses /tmp/x/missing/../link-to-etc/f and creates nothing, not even the missing folder", async () => {
    const x = tempDir();
    symlinkSync("/etc", join(x, "link-to-etc"));
    const name = unique("f");
    const result = await attempt("sudo", join(tempDir(), "sandbox"), "write", { path: `${x}/missing/../link-to-etc/${name}`, content: "owned" });
    expect(result.success).toBe(false);
    expect(existsSync(join("/etc", name))).toBe(false);
    expect(existsSync(join(x, "missing"))).toBe(false);
  });

  it("refuses a dangling symlink to /etc/<new file>", async () => {
    const x = tempDir();
    const name = unique("new-file");
    symlinkSync(join("/etc", name), join(x, "dangling"));
    const result = await attempt("sudo", join(tempDir(), "sandbox"), "write", { path: join(x, "dangling"), content: "owned" });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(existsSync(join("/etc", name))).toBe(false);
  });

  it("follows a symlink whose target the tier allows, checking the target from its own parent", async () => {
    const x = tempDir();
    // Writable by the action user: the kernel's answer is not what this test is about.
    writeFileSync(join(x, "real.txt"), "old");
    chmodSync(join(x, "real.txt"), 0o666);
    symlinkSync(join(x, "real.txt"), join(x, "link.txt"));
    expect(await attempt("sudo", join(tempDir(), "sandbox"), "write", { path: join(x, "link.txt"), content: "new" })).toMatchObject({ success: true });
    expect(readFileSync(join(x, "real.txt"), "utf8")).toBe("new");
  });
});

async function raceReads(tier: CapabilityTier, sandbox: string, dir: string, extra = {}) {
  writeFileSync(join(dir, "swap"), "harmless text\n");
  const agent = executor({ tier, sandboxRoot: sandbox });
  const hub = new FakeHub();
  // The agent is ready (its action worker started) before the swapping starts, so the reads race the swaps rather
  // than all land after them, on the last state: the link to /etc/shadow.
  expect((await run(agent, hub, directive("read", { path: join(dir, "swap") }, extra))).success).toBe(true);
  let done = false;
  const swapping = swapSymlink(dir, 3_000).then(() => (done = true));
  const outcomes = { leaks: 0, read: 0, refused: 0 };
  while (!done) {
    const results = await Promise.all(Array.from({ length: 4 }, () => run(agent, hub, directive("read", { path: join(dir, "swap") }, extra))));
    for (const result of results) {
      if (result.output.includes("root:")) outcomes.leaks++;
      else if (result.success) outcomes.read++;
      else outcomes.refused++;
    }
  }
  await swapping;
  return outcomes;
}

describe("a symlink swapped between a file and /etc/shadow 3,000 times while reads run", () => {
  it("leaks nothing on an unprivileged node", async () => {
    const sandbox = sandboxDir();
    const outcomes = await raceReads("unprivileged", sandbox, sandbox);
    expect(outcomes.leaks).toBe(0);
    expect(outcomes.read).toBeGreaterThan(0);
  }, 120_000);

  it.skipIf(!IS_ROOT)(`leaks nothing at tier root with confineTo, where only the policy stands between root and /etc/shadow (${NOT_ROOT_REASON})`, async () => {
    const dir = tempDir();
    const outcomes = await raceReads("root", join(tempDir(), "sandbox"), dir, { confineTo: [dir] });
    expect(outcomes.leaks).toBe(0);
    expect(outcomes.read).toBeGreaterThan(0);
    expect(outcomes.refused).toBeGreaterThan(0);
  }, 120_000);
});

describe("confineTo: the caller may only touch these folders", () => {
  function layout() {
    const allowed = tempDir();
    const outside = tempDir();
    writeFileSync(join(allowed, "ok.txt"), "needle ok\n");
    writeFileSync(join(outside, "secret.txt"), "needle secret\n");
    symlinkSync(join(outside, "secret.txt"), join(allowed, "secret-link.txt"));
    symlinkSync(outside, join(allowed, "outside-dir"));
    mkdirSync(join(allowed, "sub"));
    return { allowed, outside };
  }

  it("reads inside, refuses outside and through a symlink inside that points outside, at tier root", async () => {
    const { allowed, outside } = layout();
    const confine = { confineTo: [allowed] };
    const sandbox = join(tempDir(), "sandbox");
    expect(await attempt("root", sandbox, "read", { path: join(allowed, "ok.txt") }, confine)).toMatchObject({ success: true });
    expect(await attempt("root", sandbox, "read", { path: join(outside, "secret.txt") }, confine)).toMatchObject({ errorCode: "tier_refused" });
    const viaLink = await attempt("root", sandbox, "read", { path: join(allowed, "secret-link.txt") }, confine);
    expect(viaLink).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(viaLink.output).not.toContain("secret");
    // Nor where the link leads: the name of what lies outside is not the caller's to read either.
    expect(viaLink.error).toContain("leads outside the folders this caller may use");
    expect(viaLink.error).not.toContain(outside);
    const viaFolder = await attempt("root", sandbox, "read", { path: join(allowed, "outside-dir", "secret.txt") }, confine);
    expect(viaFolder.error).not.toContain(outside);
    expect(await attempt("root", sandbox, "read", { path: join(allowed, "outside-dir", "secret.txt") }, confine)).toMatchObject({ errorCode: "tier_refused" });
    expect(await attempt("root", sandbox, "glob", { pattern: "*", path: join(allowed, "outside-dir") }, confine)).toMatchObject({ errorCode: "tier_refused" });
  });

  it("lists a readable folder without saying where its links to the outside lead", async () => {
    const { allowed, outside } = layout();
    symlinkSync("ok.txt", join(allowed, "ok-link"));
    const sandbox = join(tempDir(), "sandbox");
    const listed = await attempt("root", sandbox, "list", { path: allowed }, { confineTo: [allowed] });
    expect(listed).toMatchObject({ success: true });
    expect(listed.output).not.toContain(outside);
    expect(listed.output).toMatch(/ secret-link\.txt -> \(outside the folders this caller may use\)$/m);
    expect(listed.output).toMatch(/ outside-dir -> \(outside the folders this caller may use\)$/m);
    expect(listed.output).toMatch(/ ok-link -> ok\.txt$/m);
    const whole = await attempt("root", sandbox, "list", { path: allowed });
    expect(whole.output).toContain(`secret-link.txt -> ${join(outside, "secret.txt")}`);
  });

  it("never lists or searches what lies outside, with ripgrep installed or not", async () => {
    const { allowed } = layout();
    const confine = { confineTo: [allowed] };
    const glob = await attempt("root", join(tempDir(), "sandbox"), "glob", { pattern: "**/*", path: allowed }, confine);
    expect(glob.output).toBe(join(allowed, "ok.txt"));
    for (const grep of ["auto", "builtin"] as const) {
      const agent = executor({ tier: "root", grep });
      const result = await run(agent, new FakeHub(), directive("grep", { pattern: "needle", path: allowed }, confine));
      expect(result.output).toBe(`${join(allowed, "ok.txt")}:1:needle ok`);
    }
  });

  it("does not move the boundary through a symlink at a readable path, or in a folder above it", async () => {
    const { outside } = layout();
    const sandbox = join(tempDir(), "sandbox");
    // Whoever owns the folder above a readable path (an app's user owning /srv/app above /srv/app/logs) makes the
    // readable path, or a folder on the way to it, a link to wherever they like: here, a folder of secrets.
    const app = tempDir();
    symlinkSync(outside, join(app, "logs"));
    const linkedAbove = join(tempDir(), "srv");
    symlinkSync(join(outside, ".."), linkedAbove);
    const outsideName = outside.split("/").pop()!;
    for (const [readable, path] of [
      [join(app, "logs"), join(app, "logs", "secret.txt")],
      [join(linkedAbove, outsideName), join(linkedAbove, outsideName, "secret.txt")],
    ] as const) {
      const confine = { confineTo: [readable] };
      const read = await attempt("root", sandbox, "read", { path }, confine);
      expect(read, readable).toMatchObject({ success: false, errorCode: "tier_refused" });
      expect(read.output).not.toContain("needle secret");
      const grep = await run(executor({ tier: "root", grep: "builtin" }), new FakeHub(), directive("grep", { pattern: "needle", path: readable }, confine));
      expect(grep.output, readable).not.toContain("needle secret");
      expect(await attempt("root", sandbox, "glob", { pattern: "**/*", path: readable }, confine)).toMatchObject({ success: false, errorCode: "tier_refused" });
    }
  });

  it("refuses shell actions, which cannot be confined to folders", async () => {
    const { allowed } = layout();
    const result = await attempt("root", join(tempDir(), "sandbox"), "bash", { command: "cat /etc/hostname", cwd: allowed }, { confineTo: [allowed] });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
  });
});
