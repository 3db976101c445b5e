import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { resolveActionUser } from "../../agent/privilege/action-user.ts";
import { logPath } from "../../agent/supervisor/process-log.ts";
import { HubToNodeMessage } from "../../protocol/node-messages.ts";
import { ProcessConfig, ProcessSpec } from "../../protocol/processes.ts";
import { evaluateProcess } from "../../protocol/tier-policy.ts";
import { IS_ROOT, sharedTempRoot, TEST_ACTION_USER } from "../support/action-user.ts";
import { waitFor } from "../support/wait-for.ts";
import { cleanUp, config, FakeLink, marker, pidsWith, supervisor, tempDir, waitForKinds } from "./supervisor-harness.ts";

const marks: string[] = [];
afterEach(() => cleanUp(marks));

const SANDBOX = "/tmp/cortex-sandbox";

function allowed(tier: "root" | "sudo" | "unprivileged", input: Record<string, unknown>): string | true {
  const decision = evaluateProcess(tier, ProcessSpec.parse({ name: "p", ...input }), { sandboxRoot: SANDBOX });
  return decision.allowed ? true : decision.reason;
}

describe("what each tier may supervise (the one policy, as the hub and the agent apply it)", () => {
  it("lets root run anything, and refuses loader variables at every tier", () => {
    expect(allowed("root", { command: "/usr/sbin/nginx", cwd: "/etc" })).toBe(true);
    expect(allowed("root", { command: "nginx -g 'daemon off;'", shell: true })).toBe(true);
    for (const tier of ["root", "sudo", "unprivileged"] as const) {
      for (const name of ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "BASH_ENV", "NODE_OPTIONS", "PERL5OPT"]) {
        expect(allowed(tier, { command: `${SANDBOX}/app`, env: { [name]: "/tmp/evil.so" } })).toMatch(new RegExp(`^environment variable ${name} is refused at every tier`));
      }
    }
    expect(allowed("root", { command: "/usr/bin/app", env: { PATH: "/opt/bin", LANG: "C.UTF-8", PYTHONPATH: "/opt/lib" } })).toBe(true);
  });

  it("keeps tier unprivileged inside its sandbox: the program, the folder, no shell, no PATH lookup", () => {
    expect(allowed("unprivileged", { command: `${SANDBOX}/bin/app`, args: ["--port", "8080", "/etc/passwd"] })).toBe(true);
    expect(allowed("unprivileged", { command: `${SANDBOX}/bin/app`, cwd: `${SANDBOX}/data` })).toBe(true);
    expect(allowed("unprivileged", { command: "/bin/sleep", args: ["10"] })).toBe(`program /bin/sleep is outside the sandbox ${SANDBOX} at tier unprivileged`);
    expect(allowed("unprivileged", { command: `${SANDBOX}/../../bin/sh` })).toBe(`program /bin/sh is outside the sandbox ${SANDBOX} at tier unprivileged`);
    expect(allowed("unprivileged", { command: `${SANDBOX}-other/app` })).toMatch(/is outside the sandbox/);
    expect(allowed("unprivileged", { command: "app" })).toMatch(/^at tier unprivileged the command must be the absolute path of a program inside the sandbox/);
    expect(allowed("unprivileged", { command: `${SANDBOX}/app`, shell: true })).toMatch(/^a shell command line is not allowed at tier unprivileged/);
    expect(allowed("unprivileged", { command: `${SANDBOX}/app`, cwd: "/tmp" })).toBe(`working folder /tmp is outside the sandbox ${SANDBOX} at tier unprivileged`);
  });

  it("holds tier sudo to its folders and its sudo rule", () => {
    expect(allowed("sudo", { command: "/usr/bin/node", args: ["server.js"], cwd: "/srv/app" })).toBe(true);
    expect(allowed("sudo", { command: "/usr/bin/node", cwd: "/etc/app" })).toBe("working folder /etc/app is under /etc, which tier sudo may not touch");
    expect(allowed("sudo", { command: "/usr/bin/node" })).toBe(true);
    expect(allowed("sudo", { command: "sudo", args: ["rm", "-rf", "/"] })).toMatch(/^sudo is allowed only for/);
    expect(allowed("sudo", { command: "/usr/bin/sudo", args: ["-u", "root", "sh"] })).toMatch(/^sudo is allowed only for/);
    expect(allowed("sudo", { command: "sudo -u root id", shell: true })).toMatch(/^sudo is allowed only for/);
    expect(allowed("sudo", { command: "sudo", args: ["apt-get", "update"] })).toBe(true);
    expect(allowed("sudo", { command: "su -c id", shell: true })).toMatch(/switching user/);
  });

  it("never lets a process name be a path", () => {
    for (const name of ["../x", "..", ".", "a/b", "/etc/passwd", "-rf", "A", "x".repeat(64), "", "a b", "a\u0000"]) {
      expect(ProcessSpec.safeParse({ name, command: "/bin/true" }).success, name).toBe(false);
      expect(() => logPath("/var/lib/cortex/logs", name)).toThrow(/not a process name/);
    }
    const frame = { type: "config_update", processes: { version: 1, processes: [{ name: "../x", command: "/bin/true" }] } };
    expect(HubToNodeMessage.safeParse(frame).success).toBe(false);
    expect(ProcessConfig.safeParse({ version: 2, processes: [{ name: "a", command: "/bin/true" }, { name: "a", command: "/bin/false" }] }).success).toBe(false);
  });
});

describe("the agent's own check, on real paths", () => {
  it("at tier unprivileged refuses a program outside the sandbox, and one reached through a symlink inside it, and runs one inside it", async () => {
    const m = marker();
    marks.push(m);
    const sandbox = tempDir("cortex-sandbox-test-");
    mkdirSync(join(sandbox, "bin"));
    const program = join(sandbox, "bin", "app");
    writeFileSync(program, `#!/bin/sh\n# ${m}\nsleep 30\n`);
    chmodSync(program, 0o755);
    symlinkSync("/bin/sleep", join(sandbox, "bin", "escape"));
    const link = new FakeLink();
    const s = supervisor({ tier: "unprivileged", sandboxRoot: sandbox });
    s.connected(link.send);
    s.start();
    s.applyConfig(
      config(
        { name: "outside", command: "/bin/sleep", args: ["30"] },
        { name: "symlinked", command: join(sandbox, "bin", "escape"), args: ["30", m] },
        { name: "inside", command: program, args: [m], startupSeconds: 0.05 },
        { name: "preload", command: program, env: { LD_PRELOAD: "/tmp/x.so" } },
      ),
    );
    const [outside] = await waitForKinds(link, ["start_failed"], "outside");
    expect(outside!.reason).toBe(`refused: program /bin/sleep is outside the sandbox ${sandbox} at tier unprivileged`);
    const [symlinked] = await waitForKinds(link, ["start_failed"], "symlinked");
    expect(symlinked!.reason).toMatch(/^refused: program \/(usr\/)?bin\/sleep is outside the sandbox/);
    const [preload] = await waitForKinds(link, ["start_failed"], "preload");
    expect(preload!.reason).toMatch(/^refused: environment variable LD_PRELOAD is refused at every tier/);
    await waitForKinds(link, ["started"], "inside");
    const states = Object.fromEntries(s.status().processes.map((p) => [p.name, p.state]));
    expect(states).toEqual({ outside: "refused", symlinked: "refused", inside: "running", preload: "refused" });
    // Refused stays refused: no retry loop, and nothing of the refused ones ever ran.
    await new Promise((r) => setTimeout(r, 300));
    expect(link.kinds("outside")).toEqual(["start_failed"]);
    expect(pidsWith(m)).toHaveLength(1);
    expect(await s.startByHand("outside")).toMatchObject({ ok: false, message: expect.stringContaining("is outside the sandbox") });
  });

  it("gives a process a clean environment: nothing of the agent's own (a token) leaks into it", async () => {
    const dir = tempDir();
    const out = join(dir, "env.txt");
    process.env.CORTEX_NODE_TOKEN = "cxn_leak_test_0123456789abcdef";
    try {
      const link = new FakeLink();
      const s = supervisor();
      s.connected(link.send);
      s.start();
      s.applyConfig(config({ name: "env", command: "/bin/sh", args: ["-c", `env > ${out}`], env: { GREETING: "hello" }, launchMode: "always", restart: { maxAttempts: 0 } }));
      await waitFor("env written", () => existsSync(out) && s.status().processes[0]?.state === "gave_up");
      const env = readFileSync(out, "utf8");
      expect(env).toContain("GREETING=hello");
      expect(env).toMatch(/^PATH=/m);
      expect(env).toMatch(/^HOME=/m);
      expect(env).not.toContain("cxn_leak_test");
      expect(env).not.toContain("CORTEX_");
    } finally {
      delete process.env.CORTEX_NODE_TOKEN;
    }
  });
});

describe.skipIf(!IS_ROOT)("the action user", () => {
  it.each(["unprivileged", "sudo"] as const)("runs a process of a node at tier %s as the action user, never as root", async (tier) => {
    const user = resolveActionUser({ tier, runAs: TEST_ACTION_USER });
    expect(user).toMatchObject({ switched: true, name: TEST_ACTION_USER });
    const sandbox = join(sharedTempRoot(), `cortex-sv-sandbox-${process.pid}-${tier}`);
    mkdirSync(sandbox, { mode: 0o700 });
    try {
      chownSync(sandbox, user.uid, user.gid);
      const program = join(sandbox, "app");
      writeFileSync(program, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
      chownSync(program, user.uid, user.gid);
      const m = marker();
      marks.push(m);
      const link = new FakeLink();
      const s = supervisor({ tier, sandboxRoot: sandbox, user });
      s.connected(link.send);
      s.start();
      s.applyConfig(config({ name: "app", command: program, args: [m], startupSeconds: 0.1 }));
      await waitForKinds(link, ["started"], "app");
      const pid = s.status().processes[0]!.pid!;
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const ids = (field: string) => status.match(new RegExp(`^${field}:\\s+(.*)$`, "m"))![1]!.trim().split(/\s+/).map(Number);
      expect(ids("Uid")).toEqual([user.uid, user.uid, user.uid, user.uid]);
      expect(ids("Gid")).toEqual([user.gid, user.gid, user.gid, user.gid]);
      expect(ids("Groups")).not.toContain(0);
      expect(status).toMatch(/^CapEff:\s+0+$/m);
      // Its output still reaches the log the agent (root) keeps, through the descriptor it was given.
      expect(s.logs("app", 5)).toBe("");
      await s.stopByHand("app");
    } finally {
      rmSync(sandbox, { recursive: true, force: true });
    }
  });
});
