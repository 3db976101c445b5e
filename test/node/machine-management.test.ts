import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, lutimesSync, mkdirSync, openSync, readFileSync, renameSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defaultBinDirs } from "../../agent/host/host-environment.ts";
import { cleanTemporaryFiles } from "../../agent/host/temp-cleaner.ts";
import { resolveActionUser } from "../../agent/privilege/action-user.ts";
import { removeAs } from "../../agent/privilege/act-as.ts";
import { IS_ROOT, NOT_ROOT_REASON, testRunAs } from "../support/action-user.ts";
import { findProgram } from "../../agent/host/programs.ts";
import { unitOfCgroup } from "../../agent/host/systemd.ts";
import type { DirectiveExecutorOptions } from "../../agent/directives/directive-executor.ts";
import { directive, executor, FakeHub, isolateHome, processAlive, cleanUp, run, tempDir, waitUntil, giveToActionUser } from "./executor-harness.ts";

isolateHome();

const SYSTEMD = existsSync("/run/systemd/system");
const decoys: ChildProcess[] = [];

afterEach(() => {
  for (const child of decoys.splice(0)) child.kill("SIGKILL");
  cleanUp();
});

async function ask(action: Parameters<typeof directive>[0], params: Record<string, unknown>, options: Partial<DirectiveExecutorOptions> = {}) {
  return run(executor(options), new FakeHub(), directive(action, params), 30_000);
}

function json(output: string): Record<string, any> {
  return JSON.parse(output) as Record<string, any>;
}

/**
 * A long-sleeping process whose kernel name is `name`: a copy of a system binary under that name, so a pattern can
 * match it and nothing else on the machine.
 */
async function decoy(name: string, binary = "/bin/sleep", args: string[] = ["300"]): Promise<ChildProcess> {
  const dir = tempDir("cortex-decoy-");
  copyFileSync(binary, join(dir, name));
  chmodSync(join(dir, name), 0o755);
  const child = spawn(join(dir, name), args, { stdio: "ignore" });
  decoys.push(child);
  await waitUntil(() => {
    try {
      return readFileSync(`/proc/${child.pid}/comm`, "utf8").trim() === name.slice(0, 15);
    } catch {
      return false;
    }
  }, 5_000, `decoy ${name}`);
  return child;
}

function uniqueName(prefix: string): string {
  return `${prefix}${Math.random().toString(36).slice(2, 8)}`;
}

function stateOf(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2)[0]!;
}

describe("process.signal", () => {
  it("kills the processes a pattern names", async () => {
    const name = uniqueName("cxkill");
    const victims = [await decoy(name), await decoy(name)];
    const result = await ask("process.signal", { pattern: `^${name}$`, operation: "kill" });
    expect(result).toMatchObject({ success: true });
    const rows = json(result.output).results.rows as unknown[][];
    expect(rows.map((r) => r[0]).sort()).toEqual(victims.map((v) => v.pid).sort());
    expect(rows.every((r) => r[3] === "ended after SIGTERM")).toBe(true);
    await waitUntil(() => victims.every((v) => !processAlive(v.pid!)), 5_000, "the victims to end");
  });

  it("follows SIGTERM with SIGKILL when a process ignores it", async () => {
    const name = uniqueName("cxtrap");
    const ready = join(tempDir(), "trapped");
    const stubborn = await decoy(name, "/bin/bash", ["-c", `trap '' TERM; touch ${ready}; while true; do sleep 0.2; done`]);
    // Until the trap is set, SIGTERM would still end it.
    await waitUntil(() => existsSync(ready), 5_000, "the trap to be set");
    const result = await ask("process.signal", { pattern: `^${name}$`, operation: "kill", graceSeconds: 1 });
    expect(json(result.output).results.rows).toEqual([[stubborn.pid, "root", name, "killed with SIGKILL (still running after SIGTERM)"]]);
    await waitUntil(() => !processAlive(stubborn.pid!), 5_000, "the stubborn process to end");
  });

  it("stops and continues processes", async () => {
    const name = uniqueName("cxpause");
    const target = await decoy(name);
    expect(await ask("process.signal", { pattern: `^${name}$`, operation: "stop" })).toMatchObject({ success: true });
    await waitUntil(() => stateOf(target.pid!) === "T", 5_000, "the process to stop");
    const resumed = await ask("process.signal", { pattern: name, operation: "continue" });
    expect(json(resumed.output).results.rows[0][3]).toBe("continued");
    await waitUntil(() => stateOf(target.pid!) === "S", 5_000, "the process to continue");
  });

  it("never touches init, the agent or its parents, even with the pattern .*", async () => {
    await decoy("sshd");
    // On a bare CI machine every other process may be protected; this one makes sure something is fair game.
    const fair = await decoy(uniqueName("cxfair"));
    const result = await ask("process.signal", { pattern: ".*", operation: "kill", dryRun: true, maxProcesses: 200 });
    expect(result, result.output).toMatchObject({ success: true });
    const answer = json(result.output);
    const protectedRows = answer.protected.rows as [number, string, string][];
    const protectedPids = protectedRows.map((r) => r[0]);
    expect(protectedRows).toContainEqual([1, expect.any(String), "init (PID 1)"]);
    expect(protectedRows).toContainEqual([process.pid, expect.any(String), "the Cortex agent itself"]);
    expect(protectedPids).toContain(process.ppid);
    expect(protectedRows.filter((r) => r[1] === "sshd").every((r) => r[2] === "a protected system process (sshd)")).toBe(true);
    expect(protectedRows.some((r) => r[1] === "sshd")).toBe(true);
    expect(answer.kernelThreadsProtected).toBeGreaterThan(0);
    const candidates = (answer.wouldSignal.rows as unknown[][]).map((r) => r[0]);
    for (const pid of [1, process.pid, process.ppid]) expect(candidates).not.toContain(pid);
    expect(candidates).toContain(fair.pid);
  });

  it("refuses to kill a protected process by name, leaving it running", async () => {
    const sshd = await decoy("sshd");
    // Matched by its unique path, so nothing but the decoy can be hit even if protection failed.
    const pattern = `cortex-decoy-[^/]+/sshd`;
    const result = await ask("process.signal", { pattern, operation: "kill", matchFullCommand: true });
    expect(result).toMatchObject({ success: false, errorCode: "protected" });
    expect(processAlive(sshd.pid!)).toBe(true);
  });

  it("signals nothing when more processes match than maxProcesses", async () => {
    const name = uniqueName("cxmany");
    const many = [await decoy(name), await decoy(name), await decoy(name)];
    const result = await ask("process.signal", { pattern: `^${name}$`, operation: "kill", maxProcesses: 2 });
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(result.error).toContain("3 processes match");
    expect(many.every((p) => processAlive(p.pid!))).toBe(true);
  });

  it("leaves root's processes alone at tier sudo", async () => {
    const name = uniqueName("cxroot");
    const owned = await decoy(name);
    const result = await ask("process.signal", { pattern: `^${name}$`, operation: "kill" }, { tier: "sudo" });
    expect(result).toMatchObject({ success: false, errorCode: "protected" });
    expect(json(result.output).protected.rows).toEqual([[owned.pid, name, "owned by root, which tier sudo does not signal"]]);
    expect(processAlive(owned.pid!)).toBe(true);
  });

  it("matches regex bombs in linear time and refuses invalid patterns", async () => {
    const long = await decoy(uniqueName("cxbomb"), "/bin/bash", ["-c", "sleep 300; true", `${"a".repeat(3_000)}!`]);
    const started = Date.now();
    // A dry run: `(a+)+$` may match processes of other people on this machine, which a test must never signal.
    const result = await ask("process.signal", { pattern: "(a+)+$", operation: "kill", matchFullCommand: true, dryRun: true, maxProcesses: 200 });
    expect(Date.now() - started).toBeLessThan(10_000);
    if (result.success) expect((json(result.output).wouldSignal.rows as unknown[][]).map((r) => r[0])).not.toContain(long.pid);
    else expect(result).toMatchObject({ errorCode: "not_found" });
    expect(processAlive(long.pid!)).toBe(true);
    expect(await ask("process.signal", { pattern: "(x)\\1", operation: "kill" })).toMatchObject({ errorCode: "invalid_params" });
    expect(await ask("process.signal", { pattern: "[", operation: "kill" })).toMatchObject({ errorCode: "invalid_params" });
  });

  it("says when nothing matches", async () => {
    const result = await ask("process.signal", { pattern: "^cortex-nothing-matches-this$", operation: "kill" });
    expect(result).toMatchObject({ success: false, errorCode: "not_found" });
  });
});

describe("service.manage", () => {
  it(SYSTEMD ? "reports a missing unit as not found" : "says plainly that systemd is not running here", async () => {
    const result = await ask("service.manage", { unit: "cortex-no-such-unit", operation: "restart" });
    if (SYSTEMD) expect(result).toMatchObject({ success: false, errorCode: "not_found" });
    else expect(result).toMatchObject({ success: false, errorCode: "unsupported", error: expect.stringContaining("systemd is not running") });
  });

  it("refuses dangerous or malformed units before anything runs", async () => {
    for (const unit of ["--help", "a;b", "../x", "sshd", "systemd-reboot", "reboot.target", "dbus.socket", "getty@tty1"]) {
      const result = await ask("service.manage", { unit, operation: "stop" });
      expect(result, unit).toMatchObject({ success: false, errorCode: "invalid_params" });
    }
  });

  it("knows the agent's own unit from its cgroup", () => {
    expect(unitOfCgroup("0::/system.slice/cortex-agent.service\n")).toBe("cortex-agent.service");
    expect(unitOfCgroup("12:pids:/system.slice/cortex-agent.service\n1:name=systemd:/system.slice/cortex-agent.service\n")).toBe("cortex-agent.service");
    expect(unitOfCgroup("0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-x.service\n")).toBe("app-x.service");
    expect(unitOfCgroup("0::/user.slice/user-0.slice/session-3.scope\n")).toBeNull();
    expect(unitOfCgroup("0::/\n")).toBeNull();
  });
});

describe("disk.clean", () => {
  const HOUR = 3_600_000;

  function age(path: string, hours: number, link = false): void {
    const when = new Date(Date.now() - hours * HOUR);
    (link ? lutimesSync : utimesSync)(path, when, when);
  }

  /** A temporary root with old and new files, an old folder, files in use, protected names and a kept folder. */
  function layout() {
    const root = tempDir("cortex-tmp-");
    const keep = join(root, "cortex-sandbox");
    mkdirSync(keep, { mode: 0o700 });
    mkdirSync(join(root, "olddir"));
    mkdirSync(join(root, ".X11-unix"));
    const files = {
      old: join(root, "old.bin"),
      fresh: join(root, "fresh.bin"),
      nested: join(root, "olddir", "nested.bin"),
      kept: join(keep, "old-in-sandbox.bin"),
      x11: join(root, ".X11-unix", "X0"),
      open: join(root, "open.log"),
      link: join(root, "old-link"),
    };
    for (const path of Object.values(files)) if (path !== files.link) writeFileSync(path, Buffer.alloc(64 * 1024, 1));
    symlinkSync("/etc/hostname", files.link);
    for (const path of [files.old, files.nested, files.kept, files.x11, files.open]) age(path, 48);
    age(files.link, 48, true);
    age(join(root, "olddir"), 48);
    return { root, keep, files };
  }

  it("reports what it would remove without removing anything on a dry run", async () => {
    const { root, keep, files } = layout();
    const result = await ask("disk.clean", { tempOlderThanHours: 24, dryRun: true }, { tempRoots: [root], sandboxRoot: keep });
    expect(result).toMatchObject({ success: true });
    const report = json(result.output);
    // old, nested, the symlink, and open.log, which nothing holds open yet.
    expect(report.temporaryFiles.wouldRemove).toBe(4);
    expect(report.wouldFreeBytes).toBeGreaterThanOrEqual(3 * 64 * 1024);
    for (const path of Object.values(files)) expect(existsSync(path) || path === files.link, path).toBe(true);
  });

  it("removes old temporary files and emptied old folders, and reports the bytes freed", async () => {
    const { root, keep, files } = layout();
    const held = openSync(files.open, "r");
    try {
      const result = await ask("disk.clean", { tempOlderThanHours: 24 }, { tempRoots: [root], sandboxRoot: keep });
      expect(result).toMatchObject({ success: true });
      const report = json(result.output);
      expect(report.temporaryFiles).toMatchObject({ removed: 3, removedFolders: 1, skipped: { inUse: 1, protected: 2, rootOwned: 0 } });
      expect(report.freedBytes).toBeGreaterThanOrEqual(2 * 64 * 1024);
      expect(existsSync(files.old)).toBe(false);
      expect(existsSync(files.nested)).toBe(false);
      expect(existsSync(join(root, "olddir"))).toBe(false);
      expect(existsSync(files.link)).toBe(false);
      expect(existsSync("/etc/hostname")).toBe(true);
      for (const path of [files.fresh, files.kept, files.x11, files.open]) expect(existsSync(path), path).toBe(true);
    } finally {
      closeSync(held);
    }
  });

  it("removes only inside the folder it looked at, even when that folder is swapped for a symlink before the removal", async () => {
    // Anyone may write a temporary root: between the walk's look and the removal, they swap the folder it is in for a
    // link to a folder of files with the same names (here, for /etc/sudoers.d).
    const root = tempDir("cortex-tmp-");
    const victim = tempDir("cortex-victim-");
    mkdirSync(join(root, "evil"));
    for (const dir of [join(root, "evil"), victim]) {
      writeFileSync(join(dir, "victim.conf"), "x");
      age(join(dir, "victim.conf"), 48);
    }
    let swapped = false;
    const report = await cleanTemporaryFiles({
      roots: [root],
      olderThanMs: 24 * HOUR,
      keep: [],
      removeRootOwned: true,
      dryRun: false,
      signal: new AbortController().signal,
      deadline: Date.now() + 60_000,
      remove: async (dir, name, folder) => {
        if (!swapped) {
          swapped = true;
          renameSync(join(root, "evil"), join(root, "evil-was-here"));
          symlinkSync(victim, join(root, "evil"));
        }
        return removeAs({ switched: false, spawn: () => { throw new Error("not at this tier") } }, dir, name, folder);
      },
    });
    expect(swapped).toBe(true);
    expect(existsSync(join(victim, "victim.conf"))).toBe(true);
    expect(existsSync(join(root, "evil-was-here", "victim.conf"))).toBe(false);
    expect(report.removedFiles).toBe(1);
  });

  it.skipIf(!IS_ROOT || !testRunAs())(`removes the action user's old files at tier sudo, as that user, through the folder's descriptor (${NOT_ROOT_REASON})`, async () => {
    const { root, keep, files } = layout();
    giveToActionUser(keep);
    chmodSync(root, 0o1777);
    const user = resolveActionUser({ tier: "sudo", runAs: testRunAs()! });
    for (const path of [files.old, join(root, "olddir"), files.nested]) chownSync(path, user.uid, user.gid);
    age(join(root, "olddir"), 48);
    const result = await ask("disk.clean", { tempOlderThanHours: 24 }, { tier: "sudo", tempRoots: [root], sandboxRoot: keep });
    const report = json(result.output);
    expect(report.temporaryFiles).toMatchObject({ removed: 2, removedFolders: 1 });
    for (const path of [files.old, files.nested, join(root, "olddir")]) expect(existsSync(path), path).toBe(false);
    expect(existsSync(files.fresh)).toBe(true);
  });

  it("leaves root's files alone at tier sudo", async () => {
    const { root, keep, files } = layout();
    giveToActionUser(keep);
    const result = await ask("disk.clean", { tempOlderThanHours: 24 }, { tier: "sudo", tempRoots: [root], sandboxRoot: keep });
    const report = json(result.output);
    expect(report.temporaryFiles.removed).toBe(0);
    expect(report.temporaryFiles.skipped.rootOwned).toBe(4);
    expect(existsSync(files.old)).toBe(true);
  });

  it(findProgram(defaultBinDirs(), "journalctl") ? "vacuums the journal to a size and reports what it freed" : "says the journal is not available here", async () => {
    // A limit far above any real journal: the vacuum runs for real and removes nothing.
    const result = await ask("disk.clean", { journalMaxMb: 1_048_576 });
    if (findProgram(defaultBinDirs(), "journalctl")) {
      expect(result).toMatchObject({ success: true });
      expect(json(result.output).journal).toMatchObject({ limitMb: 1_048_576, freedBytes: 0 });
    } else {
      expect(result).toMatchObject({ success: false, errorCode: "unsupported" });
    }
  });

  it("needs something to clean", async () => {
    expect(await ask("disk.clean", { dryRun: true })).toMatchObject({ success: false, errorCode: "invalid_params" });
  });
});

describe("power actions", () => {
  /**
   * These never run the real `shutdown`, which would take this machine down: a stand-in under that name records
   * the arguments it was given, exactly as the agent passed them.
   */
  function standIn(body = "exit 0") {
    const dir = tempDir("cortex-bin-");
    const record = join(dir, "args");
    writeFileSync(join(dir, "shutdown"), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> ${record}; done\n${body}\n`);
    chmodSync(join(dir, "shutdown"), 0o755);
    return { binDirs: [dir], args: () => (existsSync(record) ? readFileSync(record, "utf8").split("\n").slice(0, -1) : []) };
  }

  it("schedules a reboot with -r, the delay and the message after --", async () => {
    const bin = standIn();
    const result = await ask("system.reboot", { delayMinutes: 5, message: "Maintenance now" }, { binDirs: bin.binDirs });
    expect(result).toMatchObject({ success: true });
    expect(bin.args()).toEqual(["-r", "--", "+5", "Maintenance now"]);
    expect(json(result.output)).toMatchObject({ scheduled: "reboot", inMinutes: 5, message: "Maintenance now" });
  });

  it("powers off at once with -P now", async () => {
    const bin = standIn();
    expect(await ask("system.shutdown", { delayMinutes: 0 }, { binDirs: bin.binDirs })).toMatchObject({ success: true });
    expect(bin.args()).toEqual(["-P", "--", "now"]);
  });

  it("cancels with -c", async () => {
    const bin = standIn();
    expect(await ask("system.cancel_shutdown", {}, { binDirs: bin.binDirs })).toMatchObject({ success: true });
    expect(bin.args()).toEqual(["-c"]);
  });

  it("refuses a message that could read as an option, before running anything", async () => {
    const bin = standIn();
    expect(await ask("system.reboot", { message: "--halt" }, { binDirs: bin.binDirs })).toMatchObject({ errorCode: "invalid_params" });
    expect(bin.args()).toEqual([]);
  });

  it("reports a machine without systemd as unsupported", async () => {
    const bin = standIn("echo \"System has not been booted with systemd as init system (PID 1). Can't operate.\" >&2; exit 1");
    const result = await ask("system.reboot", {}, { binDirs: bin.binDirs });
    expect(result).toMatchObject({ success: false, errorCode: "unsupported" });
    expect(result.error).toContain("has not been booted with systemd");
  });

  it(SYSTEMD ? "cancels nothing harmlessly with the real shutdown" : "gets a clear answer from the real shutdown here", async () => {
    const result = await ask("system.cancel_shutdown", {});
    if (SYSTEMD) expect(result).toMatchObject({ success: true });
    else expect(result).toMatchObject({ success: false, errorCode: "unsupported" });
  });

  it("is root's alone", async () => {
    const bin = standIn();
    for (const tier of ["sudo", "unprivileged"] as const) {
      expect(await ask("system.reboot", {}, { tier, binDirs: bin.binDirs })).toMatchObject({ errorCode: "tier_refused" });
    }
    expect(bin.args()).toEqual([]);
  });
});
