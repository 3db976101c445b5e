import { execFileSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { resolveActionUser } from "../../agent/privilege/action-user.ts";
import { StartupError } from "../../agent/privilege/startup-error.ts";
import { findAllowedCommands, installSudoersDropIn, sudoersDropIn } from "../../agent/privilege/sudoers.ts";
import { IS_ROOT, NOT_ROOT_REASON, TEST_ACTION_USER } from "../support/action-user.ts";
import { cleanUp, directive, executor, FakeHub, isolateHome, run, sandboxDir, tempDir, waitUntil } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

const testUser = () => resolveActionUser({ tier: "sudo", runAs: TEST_ACTION_USER });

describe.skipIf(!IS_ROOT)(`an agent running as root at tiers sudo and unprivileged (${NOT_ROOT_REASON})`, () => {
  it("runs shell actions as the action user with exactly its groups, none of root's", async () => {
    const agent = executor({ tier: "sudo" });
    const result = await run(agent, new FakeHub(), directive("bash", { command: "id -u; id -g; id -G" }));
    const [uid, gid, groups] = result.output.trim().split("\n");
    const user = testUser();
    expect(Number(uid)).toBe(user.uid);
    expect(Number(gid)).toBe(user.gid);
    const expected = execFileSync("id", ["-G", TEST_ACTION_USER], { encoding: "utf8" }).trim().split(" ").map(Number).sort();
    expect(groups!.split(" ").map(Number).sort()).toEqual(expected);
    expect(groups!.split(" ")).not.toContain("0");
  });

  it("gives shell actions a clean environment: the user's HOME, USER, LOGNAME, SHELL, PATH, never the agent's token", async () => {
    process.env.CORTEX_NODE_TOKEN = "cxn_secret-node_should-never-reach-an-action";
    try {
      const agent = executor({ tier: "sudo" });
      const result = await run(agent, new FakeHub(), directive("bash", { command: "env" }));
      const user = testUser();
      expect(result.output).not.toContain("should-never-reach");
      expect(result.output).toContain(`USER=${TEST_ACTION_USER}\n`);
      expect(result.output).toContain(`LOGNAME=${TEST_ACTION_USER}\n`);
      expect(result.output).toContain(`HOME=${user.home}\n`);
      expect(result.output).toMatch(/^PATH=/m);
    } finally {
      delete process.env.CORTEX_NODE_TOKEN;
    }
  });

  it("lets the kernel decide what the user may read: a root-only file inside the sandbox is refused", async () => {
    const sandbox = sandboxDir();
    writeFileSync(join(sandbox, "root-only.txt"), "for root\n");
    chmodSync(join(sandbox, "root-only.txt"), 0o600);
    writeFileSync(join(sandbox, "shared.txt"), "for all\n");
    const agent = executor({ tier: "unprivileged", sandboxRoot: sandbox });
    const hub = new FakeHub();
    expect(await run(agent, hub, directive("read", { path: join(sandbox, "shared.txt") }))).toMatchObject({ success: true });
    const refused = await run(agent, hub, directive("read", { path: join(sandbox, "root-only.txt") }));
    expect(refused).toMatchObject({ success: false, error: `permission denied: ${join(sandbox, "root-only.txt")}` });
  });

  it("creates files as the action user, and cannot write where only root may", async () => {
    const dir = tempDir();
    chmodSync(dir, 0o777);
    const agent = executor({ tier: "sudo" });
    const hub = new FakeHub();
    expect(await run(agent, hub, directive("write", { path: join(dir, "new.txt"), content: "x" }))).toMatchObject({ success: true });
    expect(statSync(join(dir, "new.txt")).uid).toBe(testUser().uid);
    chmodSync(dir, 0o755);
    const refused = await run(agent, hub, directive("write", { path: join(dir, "other.txt"), content: "x" }));
    expect(refused).toMatchObject({ success: false, error: `permission denied: ${join(dir, "other.txt")}` });
  });

  it("starts its action worker again when it dies", async () => {
    const sandbox = sandboxDir();
    writeFileSync(join(sandbox, "a.txt"), "a\n");
    const agent = executor({ tier: "unprivileged", sandboxRoot: sandbox });
    const hub = new FakeHub();
    expect(await run(agent, hub, directive("read", { path: join(sandbox, "a.txt") }))).toMatchObject({ success: true });
    const workers = readdirSync("/proc").filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("action-worker.ts") && statSync(`/proc/${pid}`).uid === testUser().uid;
      } catch {
        return false;
      }
    });
    expect(workers.length).toBeGreaterThan(0);
    for (const pid of workers) process.kill(Number(pid), "SIGKILL");
    await waitUntil(() => workers.every((pid) => !readdirSync("/proc").includes(pid)), 5_000, "the worker to die");
    expect(await run(agent, hub, directive("read", { path: join(sandbox, "a.txt") }))).toMatchObject({ success: true, output: "     1\ta" });
  });

  it("refuses to start without a user, with root, with an unknown user; runs as root at tier root", () => {
    expect(() => executor({ tier: "sudo", runAs: undefined })).toThrow(/needs --run-as/);
    expect(() => executor({ tier: "unprivileged", runAs: "root" })).toThrow(StartupError);
    expect(() => executor({ tier: "sudo", runAs: "cortex-no-such-user" })).toThrow(/no such user/);
    expect(executor({ tier: "root", runAs: TEST_ACTION_USER }).user).toMatchObject({ uid: 0, switched: false });
  });

  it("lets sudo run the package managers and nothing else, as the sudoers drop-in says", async () => {
    const file = `/etc/sudoers.d/cortex-test-${process.pid}`;
    installSudoersDropIn(file, sudoersDropIn({ nodeId: "test", user: TEST_ACTION_USER, commands: findAllowedCommands() }));
    try {
      const agent = executor({ tier: "sudo" });
      const hub = new FakeHub();
      const allowed = await run(agent, hub, directive("bash", { command: "sudo -n -u root apt-get --version | head -1" }));
      expect(allowed).toMatchObject({ success: true });
      expect(allowed.output).toMatch(/^apt /);
      const env = await run(agent, hub, directive("bash", { command: "sudo -n DEBIAN_FRONTEND=noninteractive apt-get --version >/dev/null && echo ok" }));
      expect(env).toMatchObject({ success: true, output: "ok\n" });
      // The lexical check would refuse `sudo id`; the shell hides it from the check, and sudo itself refuses.
      const refused = await run(agent, hub, directive("bash", { command: "s=sudo; $s -n id -u" }));
      expect(refused.success).toBe(false);
      expect(refused.output).not.toMatch(/^0$/m);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
