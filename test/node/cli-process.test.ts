import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { patchedSpec, ProcessPatch, ProcessSpec, type ProcessActionResponse, type ProcessListResponse, type ProcessView } from "../../protocol/processes.ts";
import { apiError, sendJson, startFakeHub, type FakeHub } from "./cli-fake-hub.ts";
import { emptyDir, runCli } from "./cli-run.ts";

const BASE = "/api/sites/default/nodes/web-1/processes";
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

function view(spec: ProcessSpec): ProcessView {
  return { name: spec.name, spec, status: null, updatedAt: 1, updatedBy: "admin key" };
}

const API = ProcessSpec.parse({ name: "api", command: "/usr/bin/node", args: ["server.js"], restart: { maxAttempts: 3, windowSeconds: 120 } });

function listing(): ProcessListResponse {
  const now = Date.now();
  return {
    nodeId: "web-1",
    configVersion: 5,
    appliedVersion: 5,
    reportedAt: now - 2_000,
    timeZone: "Europe/Paris",
    redacted: false,
    processes: [
      {
        ...view(API),
        status: { name: "api", state: "running", pid: 4321, startedAt: now - 3_723_000, restarts: 2, lastExit: { at: now - 3_800_000, kind: "crashed", code: 1, signal: null }, cpuPercent: 3.5, memoryBytes: 52_428_800, held: null, nextStartAt: null, reason: null },
      },
      { ...view(ProcessSpec.parse({ name: "kiosk", command: "/opt/kiosk", launchMode: "off" })), status: { name: "kiosk", state: "refused", pid: null, startedAt: null, restarts: 0, lastExit: null, cpuPercent: null, memoryBytes: null, held: null, nextStartAt: null, reason: "program /opt/kiosk is outside the sandbox" } },
    ],
  };
}

async function cortexWith(routes: Parameters<typeof startFakeHub>[0]) {
  hub = await startFakeHub(routes);
  return (argv: string[], cwd?: string) => runCli(["--hub", hub!.url, "--api-key", "test-api-key-0123", ...argv], { cwd });
}

describe("cortex process", () => {
  it("add sends the program, its arguments and every flag as one validated configuration", async () => {
    const cortex = await cortexWith({ [`POST ${BASE}`]: (req, res) => sendJson(res, 201, view(ProcessSpec.parse(req.body))) });
    const r = await cortex([
      "process", "add", "web-1", "api",
      "--cwd", "/srv/api", "--env", "PORT=8080", "--env", "MODE=a=b",
      "--schedule", "mon-fri 8:00-18:00", "--schedule", "sat,sun 22:00-06:00",
      "--max-restarts", "9", "--backoff", "0.5", "--stop-signal", "SIGINT", "--stop-grace", "30", "--startup", "2", "--start-delay", "5",
      "--log-max-bytes", "1048576", "--log-keep", "5",
      "--", "/usr/bin/node", "server.js", "--port", "8080",
    ]);
    expect(r).toMatchObject({ code: 0, stdout: "Added api on web-1 (scheduled); the agent starts it when its launch mode says so.\n", stderr: "" });
    expect(hub!.requests[0]!.body).toMatchObject({
      name: "api",
      command: "/usr/bin/node",
      args: ["server.js", "--port", "8080"],
      shell: false,
      cwd: "/srv/api",
      env: { PORT: "8080", MODE: "a=b" },
      launchMode: "scheduled",
      schedule: [
        { days: ["mon", "tue", "wed", "thu", "fri"], start: "08:00", end: "18:00" },
        { days: ["sat", "sun"], start: "22:00", end: "06:00" },
      ],
      restart: { maxAttempts: 9, backoffSeconds: 0.5, windowSeconds: 300, maxBackoffSeconds: 60 },
      stopSignal: "SIGINT",
      stopGraceSeconds: 30,
      startupSeconds: 2,
      startDelaySeconds: 5,
      log: { maxBytes: 1048576, keep: 5 },
    });

    const shell = await cortex(["process", "add", "web-1", "job", "--shell", "--", "cd /srv && ./run | tee out"]);
    expect(shell.code).toBe(0);
    expect(hub!.requests[1]!.body).toMatchObject({ command: "cd /srv && ./run | tee out", args: [], shell: true });
  });

  it("refuses bad names, windows and environments before sending anything", async () => {
    const cortex = await cortexWith({});
    const cases: [string[], RegExp][] = [
      [["process", "add", "web-1", "../x", "--", "/bin/true"], /a process name is 1-63 lowercase letters/],
      [["process", "add", "web-1", "x", "--schedule", "someday 08:00-09:00", "--", "/bin/true"], /unknown day "someday"/],
      [["process", "add", "web-1", "x", "--schedule", "mon 8-9", "--", "/bin/true"], /expected "DAYS HH:MM-HH:MM"/],
      [["process", "add", "web-1", "x", "--schedule", "mon 25:00-26:00", "--", "/bin/true"], /schedule\.0\.start: a time of day as HH:MM/],
      [["process", "add", "web-1", "x", "--env", "NOEQUALS", "--", "/bin/true"], /expected NAME=value/],
      [["process", "add", "web-1", "x", "--env", "A=1", "--env", "A=2", "--", "/bin/true"], /A is given twice/],
      [["process", "add", "web-1", "x", "--env", "BAD-NAME=1", "--", "/bin/true"], /env\.BAD-NAME/],
      [["process", "add", "web-1", "x"], /no command/],
      [["process", "start", "web-1", "a/b"], /a process name is/],
    ];
    for (const [argv, message] of cases) {
      const r = await cortex(argv);
      expect(r.code, argv.join(" ")).not.toBe(0);
      expect(r.stderr, argv.join(" ")).toMatch(message);
    }
    expect(hub!.requests).toEqual([]);
  });

  it("edit changes only what its flags name, keeping the rest of the relaunch policy", async () => {
    const cortex = await cortexWith({
      [`GET ${BASE}`]: (_req, res) => sendJson(res, 200, listing()),
      [`PATCH ${BASE}/api`]: (req, res) => sendJson(res, 200, view(patchedSpec(API, ProcessPatch.parse(req.body)).data!)),
    });
    const r = await cortex(["process", "edit", "web-1", "api", "--max-restarts", "10", "--mode", "off"]);
    expect(r).toMatchObject({ code: 0, stdout: "Changed api on web-1 (launchMode, restart).\n" });
    expect(hub!.requests.at(-1)!.body).toEqual({ launchMode: "off", restart: { maxAttempts: 10, windowSeconds: 120, backoffSeconds: 1, maxBackoffSeconds: 60 } });

    const command = await cortex(["process", "edit", "web-1", "api", "--default-cwd", "--", "/usr/bin/node", "v2.js"]);
    expect(command.stderr).toBe("");
    expect(command.code).toBe(0);
    expect(hub!.requests.at(-1)!.body).toEqual({ command: "/usr/bin/node", args: ["v2.js"], shell: false, cwd: null });

    const dir = emptyDir();
    writeFileSync(join(dir, "change.json"), JSON.stringify({ env: { A: "1" } }));
    expect((await cortex(["process", "edit", "web-1", "api", "--file", "change.json"], dir)).code).toBe(0);
    expect(hub!.requests.at(-1)!.body).toEqual({ env: { A: "1" } });

    const missing = await cortex(["process", "edit", "web-1", "nope", "--mode", "off"]);
    expect(missing).toMatchObject({ code: 1, stderr: "error: no process nope on node web-1\n" });
  });

  it("list shows state, PID, uptime, restarts, last exit, CPU and memory, and why a process is refused", async () => {
    const cortex = await cortexWith({ [`GET ${BASE}`]: (_req, res) => sendJson(res, 200, listing()) });
    const r = await cortex(["process", "list", "web-1"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/name\s+│ state\s+│ pid\s+│ uptime\s+│ restarts │ last exit\s+│ cpu\s+│ memory\s+│ launch │ command/);
    expect(r.stdout).toMatch(/api\s+│ running\s+│ 4321 │ 1h2m\s+│ 2\s+│ crashed 1\s+│ 3\.5% │ 50\.0 MiB │ always │ \/usr\/bin\/node server\.js/);
    expect(r.stdout).toMatch(/kiosk\s+│ refused/);
    expect(r.stdout).toContain("web-1: the agent runs this list (reported ");
    expect(r.stdout).toContain("; schedules in Europe/Paris\nkiosk: program /opt/kiosk is outside the sandbox\n");
  });

  it("start, stop and restart exit 0 when the agent did it and 1 with its reason when not", async () => {
    const answer = (ok: boolean, message: string): ProcessActionResponse => ({ name: "api", operation: "restart", ok, message, directiveId: "d-1", status: null });
    const cortex = await cortexWith({
      [`POST ${BASE}/api/restart`]: (_req, res) => sendJson(res, 200, answer(true, "restarted api (pid 99)")),
      [`POST ${BASE}/api/start`]: (_req, res) => sendJson(res, 200, answer(false, "could not start api: program /usr/bin/node not found")),
      [`POST ${BASE}/api/stop`]: (_req, res) => apiError(res, 403, "action_not_allowed", "members of site default may run only read-only actions (risk tier 1); this one is tier 2"),
    });
    expect(await cortex(["process", "restart", "web-1", "api"])).toMatchObject({ code: 0, stdout: "restarted api (pid 99)\n" });
    expect(await cortex(["process", "start", "web-1", "api"])).toMatchObject({ code: 1, stderr: "error: api: could not start api: program /usr/bin/node not found\n" });
    const stop = await cortex(["process", "stop", "web-1", "api"]);
    expect(stop.code).toBe(1);
    expect(stop.stderr).toContain("may run only read-only actions (risk tier 1); this one is tier 2 (403)");
  });

  it("logs prints the lines the agent read, asking for as many as --lines says", async () => {
    const cortex = await cortexWith({ [`POST ${BASE}/api/logs`]: (req, res) => sendJson(res, 200, { name: "api", text: `line ${req.query.get("lines")}\nlast` }) });
    expect(await cortex(["process", "logs", "web-1", "api", "--lines", "7"])).toMatchObject({ code: 0, stdout: "line 7\nlast\n" });
    expect(await cortex(["process", "remove", "web-1", "api"])).toMatchObject({ code: 1 });
  });
});
