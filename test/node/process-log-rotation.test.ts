import { spawn } from "node:child_process";
import { closeSync, existsSync, ftruncateSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { logPath, openLogForProcess, rotateIfFull } from "../../agent/supervisor/process-log.ts";
import type { LogPolicy } from "../../protocol/processes.ts";

// The supervisor rotates a running process's log on every check, and just before it starts a new instance; either
// must hold to the cap whatever the process did to its file.

const dirs: string[] = [];
const fds: number[] = [];
const groups: number[] = [];

afterEach(() => {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cortex-log-rotation-"));
  dirs.push(dir);
  return dir;
}

/** The log as a process holds it: the descriptor the supervisor hands it as stdout and stderr. */
function processDescriptor(dir: string, name: string): number {
  const fd = openLogForProcess(dir, name);
  fds.push(fd);
  return fd;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("rotating a log", () => {
  const rotate = rotateIfFull;
  it("rotates at the cap, keeps the configured number of copies as .1, .2, and keeps the newest bytes", async () => {
    const dir = tempDir();
    const policy = { maxBytes: 4096, keep: 2 };
    const current = logPath(dir, "app");
    writeFileSync(current, "a".repeat(4095));
    expect(await rotate(dir, "app", policy)).toBe(false);
    expect(existsSync(logPath(dir, "app", 1))).toBe(false);

    for (const fill of ["a", "b", "c"]) {
      writeFileSync(current, `${"x".repeat(100)}${fill.repeat(4096)}`);
      expect(await rotate(dir, "app", policy)).toBe(true);
      expect(statSync(current).size).toBe(0);
    }
    // The 100 bytes over the cap at the start of each file are the ones dropped.
    expect(readFileSync(logPath(dir, "app", 1), "utf8")).toBe("c".repeat(4096));
    expect(readFileSync(logPath(dir, "app", 2), "utf8")).toBe("b".repeat(4096));
    expect(existsSync(logPath(dir, "app", 3))).toBe(false);
    expect(existsSync(`${current}.new`)).toBe(false);

    writeFileSync(current, "d".repeat(5000));
    expect(await rotate(dir, "app", { maxBytes: 4096, keep: 0 })).toBe(true);
    expect(statSync(current).size).toBe(0);
    expect(readFileSync(logPath(dir, "app", 1), "utf8")).toBe("c".repeat(4096));
  });

  it("copies no more than the cap of a log the process stretched to 1 GiB with ftruncate, and returns promptly", async () => {
    const dir = tempDir();
    const fd = processDescriptor(dir, "sparse");
    writeSync(fd, "first line\n");
    // What an unprivileged process can do to its stdout: 1 GiB of holes, nothing written.
    ftruncateSync(fd, 1024 * 1024 * 1024);
    writeSync(fd, "last line\n");
    const maxBytes = 64 * 1024;

    const started = performance.now();
    expect(await rotate(dir, "sparse", { maxBytes, keep: 3 })).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);

    const copy = statSync(logPath(dir, "sparse", 1));
    expect(copy.size).toBe(maxBytes);
    expect(copy.blocks * 512).toBeLessThanOrEqual(maxBytes + 64 * 1024);
    const text = readFileSync(logPath(dir, "sparse", 1), "utf8");
    expect(text.endsWith("last line\n")).toBe(true);
    expect(text.includes("first line")).toBe(false);
    // The process's next write starts the emptied log over.
    expect(statSync(logPath(dir, "sparse")).size).toBe(0);
    writeSync(fd, "after\n");
    expect(readFileSync(logPath(dir, "sparse"), "utf8")).toBe("after\n");
  });

  it("does not let a process writing as fast as it can stretch the copy past the cap", { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const fd = processDescriptor(dir, "chatty");
    const maxBytes = 1024 * 1024;
    // `exec yes` as a supervised process would be, stopped at 200 MB so the old unbounded copy ends (as a failure).
    const child = spawn("/bin/sh", ["-c", "yes | head -c 200000000"], { stdio: ["ignore", fd, fd], detached: true });
    groups.push(child.pid!);
    const exited = new Promise((r) => child.once("exit", r));
    while (statSync(logPath(dir, "chatty")).size < maxBytes) await sleep(5);

    // Counts the turns of the event loop during the rotation: the background rotation must leave it running.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const started = performance.now();
    const rotated = await rotate(dir, "chatty", { maxBytes, keep: 3 });
    const elapsed = performance.now() - started;
    counting = false;

    expect(rotated).toBe(true);
    expect(statSync(logPath(dir, "chatty", 1)).size).toBeLessThanOrEqual(maxBytes);
    expect(readFileSync(logPath(dir, "chatty", 1), "utf8")).toMatch(/^\n?(y\n)*y?$/);
    expect(elapsed).toBeLessThan(5000);
    expect(turns).toBeGreaterThan(1);
    process.kill(-child.pid!, "SIGKILL");
    await exited;
  });
});

describe("a rotation under way", () => {
  it("is waited for by a second call, which does not rotate again, so a new instance starts on a truncated log", async () => {
    const dir = tempDir();
    writeFileSync(logPath(dir, "app"), "z".repeat(8192));
    const policy = { maxBytes: 4096, keep: 2 };
    const first = rotateIfFull(dir, "app", policy);
    expect(await rotateIfFull(dir, "app", policy)).toBe(false);
    // By the time the second call answers, the first is done: its copy in place and the log empty.
    expect(readFileSync(logPath(dir, "app", 1), "utf8")).toBe("z".repeat(4096));
    expect(statSync(logPath(dir, "app")).size).toBe(0);
    expect(await first).toBe(true);
    expect(existsSync(logPath(dir, "app", 2))).toBe(false);
  });
});
