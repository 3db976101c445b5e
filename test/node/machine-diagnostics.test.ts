import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { findProgram } from "../../agent/host/programs.ts";
import { defaultBinDirs } from "../../agent/host/host-environment.ts";
import { JOURNAL_DIR, LOG_FILE_ROOT } from "../../protocol/machine-actions.ts";
import { directive, executor, FakeHub, isolateHome, cleanUp, run, tempDir, waitUntil, giveToActionUser } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

const SYSTEMD = existsSync("/run/systemd/system");

async function ask(action: Parameters<typeof directive>[0], params: Record<string, unknown> = {}, tier: "root" | "sudo" | "unprivileged" = "root", sandboxRoot?: string) {
  return run(executor({ tier, ...(sandboxRoot && { sandboxRoot }) }), new FakeHub(), directive(action, params));
}

function json(output: string): Record<string, any> {
  return JSON.parse(output) as Record<string, any>;
}

describe("system.info", () => {
  it("describes this machine in compact JSON", async () => {
    const result = await ask("system.info");
    expect(result).toMatchObject({ success: true });
    const info = json(result.output);
    expect(info.hostname).toBeTruthy();
    expect(info.os.kernel).toMatch(/^Linux /);
    expect(info.cpu.cores).toBeGreaterThan(0);
    expect(info.cpu.usagePercent).toBeGreaterThanOrEqual(0);
    expect(info.memory.totalMb).toBeGreaterThan(0);
    expect(info.filesystems.some((fs: { mount: string }) => fs.mount === "/")).toBe(true);
    expect(info.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    // No GPU tools here: the answer says so rather than leaving the model to guess.
    if (!findProgram(defaultBinDirs(), "nvidia-smi")) expect(info.gpuNote).toContain("nvidia-smi");
    expect(result.output).not.toContain("\n");
  });
});

describe("process.list", () => {
  let decoy: ChildProcess;
  const marker = `cortex-marker-${process.pid}`;
  const secrets = ["hunter2", "abc123secret", "AKIAIOSFODNN7EXAMPLE", "pw4url", "Xk9fP2qL7vB4nR8sT1wY6zA3cD5eG0hJ", "s3cr3tpw"];

  beforeAll(async () => {
    decoy = spawn(
      process.execPath,
      ["-e", "setInterval(() => {}, 100000)", marker, "--password", "hunter2", "--api-token=abc123secret", "AKIAIOSFODNN7EXAMPLE", "https://user:pw4url@example.com/", "Xk9fP2qL7vB4nR8sT1wY6zA3cD5eG0hJ", "DB_PASSWORD=s3cr3tpw", "--port", "8080"],
      { stdio: "ignore", env: { ...process.env, CORTEX_DECOY_SECRET: "envsecretvalue" } },
    );
    await waitUntil(() => decoy.pid !== undefined && existsSync(`/proc/${decoy.pid}`), 5_000, "the decoy to start");
  });
  afterAll(() => {
    decoy.kill("SIGKILL");
  });

  it("finds a process by filter, with its command line but none of its secrets", async () => {
    const result = await ask("process.list", { filter: marker });
    expect(result).toMatchObject({ success: true });
    const list = json(result.output);
    expect(list.matched).toBe(1);
    const [row] = list.processes.rows;
    const columns: string[] = list.processes.columns;
    expect(row[columns.indexOf("pid")]).toBe(decoy.pid);
    const command: string = row[columns.indexOf("command")];
    expect(command).toContain(marker);
    expect(command).toContain("--port 8080");
    expect(command).toContain("--password [REDACTED");
    for (const secret of [...secrets, "envsecretvalue"]) expect(result.output).not.toContain(secret);
  });

  it("cannot be used to probe a masked secret one guess at a time", async () => {
    const result = await ask("process.list", { filter: `${marker}.*hunter2` });
    expect(json(result.output).matched).toBe(0);
  });

  it("sorts by memory or CPU and keeps to the limit", async () => {
    const byMemory = json((await ask("process.list", { sortBy: "memory", limit: 5 })).output);
    const rss = byMemory.processes.rows.map((r: unknown[]) => r[byMemory.processes.columns.indexOf("rssMb")] as number);
    expect(rss).toHaveLength(5);
    expect([...rss].sort((a, b) => b - a)).toEqual(rss);
    const byCpu = json((await ask("process.list", { limit: 3 })).output);
    expect(byCpu.processes.rows).toHaveLength(3);
    expect(byCpu.total).toBeGreaterThan(3);
  });

  it("matches filters in linear time, whatever the pattern", async () => {
    const started = Date.now();
    const result = await ask("process.list", { filter: "(a+)+(b+)+(c+)+$" });
    expect(result).toMatchObject({ success: true });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await ask("process.list", { filter: "(?=x)" })).toMatchObject({ success: false, errorCode: "invalid_params" });
  });
});

describe("disk.usage", () => {
  it("lists filesystems and the largest entries under a folder", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "big"));
    writeFileSync(join(dir, "big", "blob"), Buffer.alloc(3 * 1024 * 1024, 1));
    writeFileSync(join(dir, "small"), Buffer.alloc(1024 * 1024, 1));
    const result = await ask("disk.usage", { path: dir, top: 1 });
    expect(result).toMatchObject({ success: true });
    const usage = json(result.output);
    expect(usage.filesystems.rows.length).toBeGreaterThan(0);
    expect(usage.largest.rows).toEqual([[3, join(dir, "big")]]);
    expect(usage.largestShown).toBe("1 of 2");
    expect(usage.folderMb).toBeGreaterThanOrEqual(4);
  });

  it("says when the folder does not exist", async () => {
    expect(await ask("disk.usage", { path: "/no/such/folder" })).toMatchObject({ success: false, errorCode: "not_found" });
  });

  it("measures, as the action user, the folder it checked (handed to du as a descriptor), named by its real path", async () => {
    const sandbox = giveToActionUser(tempDir());
    writeFileSync(join(sandbox, "blob"), Buffer.alloc(2 * 1024 * 1024, 1));
    const result = await ask("disk.usage", { path: sandbox, top: 5 }, "unprivileged", sandbox);
    expect(result).toMatchObject({ success: true });
    expect(json(result.output)).toMatchObject({ folder: sandbox, largest: { rows: [[2, join(sandbox, "blob")]] } });
    expect(result.output).not.toContain("/proc/self/fd");
    // Outside the sandbox at this tier: refused before du runs.
    expect(await ask("disk.usage", { path: "/root" }, "unprivileged", sandbox)).toMatchObject({ errorCode: "tier_refused" });
  });
});

describe("network.info", () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("lists interfaces and the listening port of this process", async () => {
    const result = await ask("network.info");
    expect(result).toMatchObject({ success: true });
    const net = json(result.output);
    expect(net.interfaces.some((i: { name: string; addresses: string[] }) => i.name === "lo" && i.addresses.includes("127.0.0.1/8"))).toBe(true);
    const row = net.listening.rows.find((r: unknown[]) => r[2] === port);
    expect(row).toEqual(["tcp", "127.0.0.1", port, `node(${process.pid})`]);
  });

  it("names no process behind a port below tier root, as the kernel would not to that user", async () => {
    const net = json((await ask("network.info", {}, "unprivileged")).output);
    expect(net.listening.rows.find((r: unknown[]) => r[2] === port)).toEqual(["tcp", "127.0.0.1", port, null]);
    expect(net.listeningNote).toContain("tier root");
  });
});

describe("service.status", () => {
  it(SYSTEMD ? "reports a missing unit as not found" : "says plainly that systemd is not running here", async () => {
    const result = await ask("service.status", { unit: "cortex-no-such-unit" });
    if (SYSTEMD) {
      expect(result).toMatchObject({ success: false, errorCode: "not_found" });
    } else {
      expect(result).toMatchObject({ success: false, errorCode: "unsupported" });
      expect(result.error).toMatch(/^systemd is not running on this machine \(PID 1 is .+\)/);
    }
  });

  it("refuses unit names that could become options before any program runs", async () => {
    for (const unit of ["--help", "-H", "a;b", "../x"]) {
      expect(await ask("service.status", { unit }), unit).toMatchObject({ success: false, errorCode: "invalid_params" });
    }
  });
});

describe("logs.read", () => {
  let logDir = "";
  beforeAll(() => {
    logDir = mkdtempSync(join(LOG_FILE_ROOT, "cortex-test-"));
  });
  afterAll(() => rmSync(logDir, { recursive: true, force: true }));

  it("shows the last lines of a log file", async () => {
    const file = join(logDir, "app.log");
    writeFileSync(file, Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n");
    const result = await ask("logs.read", { file, lines: 3 });
    expect(result).toMatchObject({ success: true });
    expect(result.output.split("\n").slice(1)).toEqual(["line 18", "line 19", "line 20"]);
  });

  it("reads only the end of a big file and cuts long lines", async () => {
    const file = join(logDir, "big.log");
    writeFileSync(file, `${"x".repeat(5_000)}\n`.repeat(1_000));
    const result = await ask("logs.read", { file, lines: 2 });
    const lines = result.output.split("\n").slice(1);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^x{1000}…\[\+4000 chars\]$/);
  });

  it("refuses a symlink under /var/log that points elsewhere", async () => {
    const link = join(logDir, "shadow.log");
    symlinkSync("/etc/hostname", link);
    const result = await ask("logs.read", { file: link });
    expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    expect(result.output).toBe("");
  });

  it("refuses files outside /var/log and compressed logs", async () => {
    expect(await ask("logs.read", { file: "/etc/hostname" })).toMatchObject({ errorCode: "invalid_params" });
    expect(await ask("logs.read", { file: `${logDir}/../../../etc/hostname` })).toMatchObject({ errorCode: "invalid_params" });
    writeFileSync(join(logDir, "old.log.gz"), Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00]));
    expect(await ask("logs.read", { file: join(logDir, "old.log.gz") })).toMatchObject({ errorCode: "invalid_params" });
  });

  it("reads a log file at tier unprivileged only when it lies in the sandbox", async () => {
    const file = join(logDir, "app.log");
    expect(await ask("logs.read", { file }, "unprivileged")).toMatchObject({ errorCode: "tier_refused" });
    // The sandbox belongs to the action user, who reads the file with its own rights.
    giveToActionUser(logDir);
    expect(await ask("logs.read", { file }, "unprivileged", logDir)).toMatchObject({ success: true });
    expect(await ask("logs.read", {}, "unprivileged", logDir)).toMatchObject({ errorCode: "tier_refused" });
  });

  it("a caller confined to the readable paths reads only the journal kept in /var/log/journal", async () => {
    const bin = tempDir("cortex-bin-");
    const record = join(bin, "args");
    writeFileSync(join(bin, "journalctl"), `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> ${record}; done\necho 'Nov 29 kernel: ok'\n`);
    chmodSync(join(bin, "journalctl"), 0o755);
    const read = (extra: Record<string, unknown>) => run(executor({ binDirs: [bin] }), new FakeHub(), directive("logs.read", { lines: 5 }, extra));
    const args = () => readFileSync(record, "utf8").split("\n").slice(0, -1);

    expect(await read({ confineTo: ["/var/log"] })).toMatchObject({ success: true });
    expect(args()).toContain(`--directory=${JOURNAL_DIR}`);
    rmSync(record);
    expect(await read({})).toMatchObject({ success: true });
    expect(args().some((a) => a.startsWith("--directory"))).toBe(false);
  });

  it(findProgram(defaultBinDirs(), "journalctl") ? "reads the journal of a unit" : "says the journal is not available here", async () => {
    const result = await ask("logs.read", { unit: "cortex-no-such-unit", lines: 5, since: "1h", priority: "err" });
    if (findProgram(defaultBinDirs(), "journalctl")) {
      expect(result).toMatchObject({ success: true });
      expect(result.output).toMatch(/^journal \(cortex-no-such-unit\.service, last 1h, priority err or worse\)/);
    } else {
      expect(result).toMatchObject({ success: false, errorCode: "unsupported" });
    }
  });
});

describe("list", () => {
  it("shows each entry as ls -l would, symlinks not followed", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "file.txt"), "hello");
    symlinkSync("/etc/hostname", join(dir, "link"));
    const result = await ask("list", { path: dir });
    const lines = result.output.split("\n");
    expect(lines[0]).toBe(`${dir}: 3 entries`);
    expect(lines[1]).toMatch(/^-rw-r--r-- root:root 5 \d{4}-\d\d-\d\dT\d\d:\d\d file\.txt$/);
    expect(lines[2]).toMatch(/^lrwxrwxrwx root:root \d+ \S+ link -> \/etc\/hostname$/);
    expect(lines[3]).toMatch(/^drwx\S+ root:root \d+ \S+ sub\/$/);
  });

  it("keeps to the limit and says how many there are", async () => {
    const dir = tempDir();
    for (let i = 0; i < 10; i++) writeFileSync(join(dir, `f${i}`), "");
    const result = await ask("list", { path: dir, limit: 2 });
    expect(result.output.split("\n")).toHaveLength(3);
    expect(result.output.split("\n")[0]).toBe(`${dir}: 10 entries, showing the first 2`);
  });

  it("stays inside the sandbox at tier unprivileged", async () => {
    const sandbox = giveToActionUser(tempDir());
    symlinkSync("/etc", join(sandbox, "etc-link"));
    expect(await ask("list", { path: sandbox }, "unprivileged", sandbox)).toMatchObject({ success: true });
    expect(await ask("list", { path: "/etc" }, "unprivileged", sandbox)).toMatchObject({ errorCode: "tier_refused" });
    expect(await ask("list", { path: join(sandbox, "etc-link") }, "unprivileged", sandbox)).toMatchObject({ errorCode: "tier_refused" });
  });
});

describe("agent.health", () => {
  it("reports the agent's own state", async () => {
    const result = await ask("agent.health", {}, "sudo");
    const health = json(result.output);
    expect(health).toMatchObject({ pid: process.pid, tier: "sudo", directivesInFlight: 1, longRuns: { running: 0, awaitingReport: 0 } });
    expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(health.memoryMb.rss).toBeGreaterThan(0);
  });
});

describe("diagnostics at tier unprivileged", () => {
  it("are allowed, unlike management", async () => {
    for (const action of ["system.info", "network.info", "agent.health"] as const) {
      expect(await ask(action, {}, "unprivileged"), action).toMatchObject({ success: true });
    }
    expect(await ask("service.manage", { unit: "nginx", operation: "restart" }, "unprivileged")).toMatchObject({ errorCode: "tier_refused" });
    expect(await ask("process.signal", { pattern: "^nothing$", operation: "kill" }, "unprivileged")).toMatchObject({ errorCode: "tier_refused" });
    expect(await ask("system.reboot", {}, "sudo")).toMatchObject({ errorCode: "tier_refused" });
  });
});
