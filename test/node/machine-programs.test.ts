import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ActionError } from "../../agent/actions/action-error.ts";
import { findProgram, runProgram } from "../../agent/host/programs.ts";
import { currentUser } from "../../agent/privilege/action-user.ts";
import { newTracking, TrackedProcesses } from "../../agent/processes/tracked-processes.ts";
import { processAlive, cleanUp, tempDir, waitUntil } from "./executor-harness.ts";

afterEach(cleanUp);

/** A folder holding stand-in programs, plus the real system folders after it for what the scripts call. */
function binDir(scripts: Record<string, string>): string[] {
  const dir = tempDir("cortex-bin-");
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return [dir, "/usr/bin", "/bin"];
}

function runner(binDirs: string[], signal = new AbortController().signal) {
  return { signal, killGraceMs: 100, host: { binDirs }, processes: new TrackedProcesses(newTracking(null, "d"), currentUser()) };
}

/** The same, for an action user who is not root: programs still start here, but what needs root must ask sudo. */
function nonRootRunner(binDirs: string[]) {
  const processes = new TrackedProcesses(newTracking(null, "d"), currentUser());
  return { ...runner(binDirs), processes: { spawn: processes.spawn.bind(processes), runsAsRoot: false } };
}

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ActionError);
  return err as ActionError;
}

describe("running system programs", () => {
  it("passes arguments as they are, never through a shell", async () => {
    const dirs = binDir({ "echo-args": 'for a in "$@"; do printf "[%s]\\n" "$a"; done' });
    const result = await runProgram(runner(dirs), "echo-args", ["$(id)", "a;b", "`id`", "--help", "x y"]);
    expect(result.stdout).toBe("[$(id)]\n[a;b]\n[`id`]\n[--help]\n[x y]\n");
    expect(result.code).toBe(0);
  });

  it("finds programs only in the given folders, not on the inherited PATH", async () => {
    const dirs = binDir({});
    expect(findProgram(dirs.slice(0, 1), "ls")).toBeNull();
    const err = await failure(runProgram(runner(dirs.slice(0, 1)), "ls", []));
    expect(err.code).toBe("unsupported");
    expect(err.message).toContain("ls is not installed");
  });

  it("gives programs a fixed environment without the agent's secrets", async () => {
    process.env.CORTEX_TEST_SECRET = "cxn_node_supersecret";
    try {
      const result = await runProgram(runner(binDir({ "print-env": "env" })), "print-env", []);
      expect(result.stdout).not.toContain("supersecret");
      expect(result.stdout).toContain("LC_ALL=C.UTF-8");
      expect(result.stdout).toContain("SYSTEMD_PAGER=");
    } finally {
      delete process.env.CORTEX_TEST_SECRET;
    }
  });

  it("kills the program's whole process group on timeout", async () => {
    const dir = tempDir();
    const pidFile = join(dir, "child.pid");
    const dirs = binDir({ hang: `sleep 300 & echo $! > ${pidFile}; wait` });
    const err = await failure(runProgram(runner(dirs), "hang", [], { timeoutMs: 300 }));
    expect(err.code).toBe("timeout");
    const child = Number(readFileSync(pidFile, "utf8"));
    await waitUntil(() => !processAlive(child), 5_000, "the background child to be killed");
  });

  it("returns what was printed so far when asked to on timeout", async () => {
    const dirs = binDir({ slow: "echo first; sleep 300" });
    const result = await runProgram(runner(dirs), "slow", [], { timeoutMs: 300, partialOnTimeout: true });
    expect(result).toMatchObject({ timedOut: true, stdout: "first\n" });
  });

  it("stops the program when the action is cancelled", async () => {
    const dir = tempDir();
    const pidFile = join(dir, "pid");
    const controller = new AbortController();
    const dirs = binDir({ hang: `echo $$ > ${pidFile}; sleep 300` });
    const running = runProgram(runner(dirs, controller.signal), "hang", [], { timeoutMs: 60_000 });
    await waitUntil(() => {
      try {
        return readFileSync(pidFile, "utf8").trim() !== "";
      } catch {
        return false;
      }
    }, 5_000, "the program to start");
    controller.abort(new ActionError("cancelled", "cancelled on request"));
    expect((await failure(running)).code).toBe("cancelled");
    expect(processAlive(Number(readFileSync(pidFile, "utf8")))).toBe(false);
  });

  it("caps what it keeps of the output and says so", async () => {
    const dirs = binDir({ loud: "head -c 100000 /dev/zero | tr '\\0' x" });
    const result = await runProgram(runner(dirs), "loud", [], { maxBytes: 1000 });
    expect(result.stdout).toHaveLength(1000);
    expect(result.truncated).toBe(true);
    expect(result.code).toBe(0);
  });

  it("asks sudo, never for a password, for what needs root when actions do not run as root", async () => {
    const dir = tempDir();
    const record = join(dir, "sudo-args");
    const dirs = binDir({
      sudo: `printf '%s\\n' "$@" > ${record}; shift 2; exec "$@"`,
      systemctl: 'echo "systemctl $*"',
    });
    const result = await runProgram(nonRootRunner(dirs), "systemctl", ["restart", "--", "nginx.service"], { asRoot: true });
    expect(result.stdout).toBe("systemctl restart -- nginx.service\n");
    expect(readFileSync(record, "utf8").split("\n").slice(0, -1)).toEqual(["-n", "--", join(dirs[0]!, "systemctl"), "restart", "--", "nginx.service"]);
  });

  it("reports sudo's refusal as a tier refusal that names what was asked", async () => {
    const dirs = binDir({ sudo: 'echo "sudo: a password is required" >&2; exit 1', systemctl: "exit 0" });
    const err = await failure(runProgram(nonRootRunner(dirs), "systemctl", ["stop", "--", "nginx.service"], { asRoot: true }));
    expect(err.code).toBe("tier_refused");
    expect(err.message).toBe("sudoers on this machine does not let the agent's user run systemctl stop -- nginx.service without a password");
  });
});
