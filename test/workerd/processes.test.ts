import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { ActivityPage, ApiError } from "../../protocol/api.ts";
import { ProcessListResponse, ProcessView, type ProcessEvent, type SupervisionStatus } from "../../protocol/processes.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { call, createKey, expectJson, join, newSite, refusal, rootSession } from "./accounts-support.ts";
import { watch, type Viewer as LiveViewer } from "./live-viewer.ts";
import { api, connectNode, freshSite, registerNode, type FakeAgent } from "./support.ts";

function processesPath(site: string, node: string, rest = ""): string {
  return `/api/sites/${site}/nodes/${node}/processes${rest}`;
}

async function add(site: string, node: string, body: unknown): Promise<Response> {
  return api(processesPath(site, node), { method: "POST", body: JSON.stringify(body) });
}

async function list(site: string, node: string): Promise<ProcessListResponse> {
  const res = await api(processesPath(site, node));
  expect(res.status).toBe(200);
  return ProcessListResponse.parse(await res.json());
}

async function processActivity(site: string): Promise<string[]> {
  const page = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=process&limit=100`)).json());
  return page.entries.map((e) => e.message).reverse();
}

let eventCounter = 0;
function event(name: string, kind: ProcessEvent["kind"], extra: Partial<ProcessEvent> = {}): ProcessEvent {
  eventCounter += 1;
  return { id: `pe-${crypto.randomUUID()}`, name, kind, at: Date.now() + eventCounter, ...extra };
}

function status(configVersion: number, processes: Partial<SupervisionStatus["processes"][number]>[]): SupervisionStatus {
  return {
    configVersion,
    timeZone: "Europe/Paris",
    processes: processes.map((p) => ({
      name: "web",
      state: "running",
      pid: 100,
      startedAt: Date.now() - 5_000,
      restarts: 0,
      lastExit: null,
      cpuPercent: 1.5,
      memoryBytes: 10_000_000,
      held: null,
      nextStartAt: null,
      reason: null,
      ...p,
    })),
  };
}

async function connected(site: string, tier: "root" | "sudo" | "unprivileged" = "root", extra: Record<string, unknown> = {}): Promise<{ id: string; agent: FakeAgent }> {
  const creds = await registerNode(site, { name: `n-${crypto.randomUUID().slice(0, 6)}`, tier });
  const agent = await connectNode(site, creds, { tier, ...extra });
  return { id: creds.id, agent };
}

describe("a machine's process list on the hub", () => {
  it("is stored with its defaults, listed, changed and removed, each change a new version in the activity log", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "box", tier: "root" });
    const res = await add(site, creds.id, { name: "web", command: "/usr/bin/node", args: ["server.js"], env: { PORT: "8080" } });
    expect(res.status).toBe(201);
    const created = ProcessView.parse(await res.json());
    expect(created.spec).toMatchObject({
      name: "web",
      launchMode: "always",
      shell: false,
      restart: { maxAttempts: 5, windowSeconds: 300, backoffSeconds: 1, maxBackoffSeconds: 60 },
      startupSeconds: 1,
      stopSignal: "SIGTERM",
      stopGraceSeconds: 10,
      log: { maxBytes: 10 * 1024 * 1024, keep: 3 },
    });
    expect(created.status).toBeNull();

    const first = await list(site, creds.id);
    expect(first.configVersion).toBeGreaterThanOrEqual(Date.now() - 60_000);
    expect(first.processes.map((p) => p.name)).toEqual(["web"]);
    expect(first.appliedVersion).toBeNull();

    const patched = await api(processesPath(site, creds.id, "/web"), { method: "PATCH", body: JSON.stringify({ launchMode: "scheduled", schedule: [{ days: ["fri", "mon"], start: "08:00", end: "18:30" }] }) });
    expect(patched.status).toBe(200);
    expect(ProcessView.parse(await patched.json()).spec.schedule).toEqual([{ days: ["mon", "fri"], start: "08:00", end: "18:30" }]);
    const second = await list(site, creds.id);
    expect(second.configVersion).toBeGreaterThan(first.configVersion);

    expect((await api(processesPath(site, creds.id, "/web"), { method: "DELETE" })).status).toBe(200);
    expect((await list(site, creds.id)).processes).toEqual([]);
    expect(await processActivity(site)).toEqual([
      `process web added on node box by admin key: /usr/bin/node server.js (always)`,
      `process web on node box changed by admin key (launchMode, schedule): /usr/bin/node server.js (scheduled mon,fri 08:00-18:30)`,
      `process web removed from node box by admin key`,
    ]);
  });

  it("refuses bad input with a clear error and changes nothing", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "box", tier: "root" });
    expect((await add(site, creds.id, { name: "web", command: "/bin/true" })).status).toBe(201);
    const before = await list(site, creds.id);
    const cases: [unknown, number, string][] = [
      [{ name: "web", command: "/bin/true" }, 409, "process_exists"],
      [{ name: "../x", command: "/bin/true" }, 400, "invalid_body"],
      [{ name: "Web", command: "/bin/true" }, 400, "invalid_body"],
      [{ name: "a", command: "" }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", launchMode: "scheduled" }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", schedule: [{ days: ["mon"], start: "25:00", end: "26:00" }] }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", shell: true, args: ["x"] }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", restart: { backoffSeconds: 100, maxBackoffSeconds: 10 } }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", env: { "BAD-NAME": "x" } }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", env: { LD_PRELOAD: "/tmp/x.so" } }, 403, "tier_refused"],
      [{ name: "a", command: "/bin/true", unknown: 1 }, 400, "invalid_body"],
      [{ name: "a", command: "/bin/true", args: ["x".repeat(4000), "y".repeat(4000), "z".repeat(4000), "w".repeat(4000), "v".repeat(4000)] }, 400, "invalid_body"],
    ];
    for (const [body, statusCode, code] of cases) {
      const res = await add(site, creds.id, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(statusCode);
      expect(ApiError.parse(await res.json()).error.code).toBe(code);
    }
    expect((await add(site, "ghost", { name: "a", command: "/bin/true" })).status).toBe(404);
    const badJson = await api(processesPath(site, creds.id), { method: "POST", body: "{not json" });
    expect(badJson.status).toBe(400);
    expect((await api(processesPath(site, creds.id, "/nope"), { method: "PATCH", body: JSON.stringify({ launchMode: "off" }) })).status).toBe(404);
    expect((await api(processesPath(site, creds.id, "/web"), { method: "PATCH", body: JSON.stringify({}) })).status).toBe(400);
    expect((await api(processesPath(site, creds.id, "/web"), { method: "PATCH", body: JSON.stringify({ name: "other" }) })).status).toBe(400);
    expect((await api(processesPath(site, creds.id, "/web"), { method: "PATCH", body: JSON.stringify({ launchMode: "scheduled" }) })).status).toBe(400);
    expect((await api(processesPath(site, creds.id, "/..%2Fx"), { method: "DELETE" })).status).toBe(400);
    const after = await list(site, creds.id);
    expect(after.configVersion).toBe(before.configVersion);
    expect(after.processes).toEqual(before.processes);
  });

  it("holds at most 32 processes per machine", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "box", tier: "root" });
    for (let i = 0; i < 32; i++) expect((await add(site, creds.id, { name: `p${i}`, command: "/bin/true" })).status).toBe(201);
    const res = await add(site, creds.id, { name: "p32", command: "/bin/true" });
    expect(res.status).toBe(409);
    expect(ApiError.parse(await res.json()).error.code).toBe("too_many_processes");
  });

  it("refuses, for an unprivileged machine, anything outside its sandbox", async () => {
    const site = freshSite();
    const { id } = await connected(site, "unprivileged", { sandboxRoot: "/srv/box-sandbox" });
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ command: "/bin/sleep", args: ["100"] }, /program \/bin\/sleep is outside the sandbox \/srv\/box-sandbox/],
      [{ command: "/srv/box-sandbox/../../bin/sh" }, /program \/bin\/sh is outside the sandbox/],
      [{ command: "sleep" }, /must be the absolute path of a program inside the sandbox/],
      [{ command: "/srv/box-sandbox/app", shell: true }, /a shell command line is not allowed/],
      [{ command: "/srv/box-sandbox/app", cwd: "/tmp" }, /working folder \/tmp is outside the sandbox/],
    ];
    for (const [body, reason] of refused) {
      const res = await add(site, id, { name: "x", ...body });
      expect(res.status).toBe(403);
      expect(ApiError.parse(await res.json()).error.message).toMatch(reason);
    }
    expect((await add(site, id, { name: "x", command: "/srv/box-sandbox/bin/app", args: ["--data", "/srv/box-sandbox/data"] })).status).toBe(201);
    // Moving it out afterwards is refused the same way.
    const moved = await api(processesPath(site, id, "/x"), { method: "PATCH", body: JSON.stringify({ command: "/usr/bin/python3" }) });
    expect(moved.status).toBe(403);
    expect((await list(site, id)).processes[0]!.spec.command).toBe("/srv/box-sandbox/bin/app");
  });
});

describe("the list's versions on the wire", () => {
  it("reach the agent on connect and on every change, always newer; a reconnect gets the latest again", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "box", tier: "root" });
    // Never configured: nothing is sent.
    const quiet = await connectNode(site, creds);
    await new Promise((r) => setTimeout(r, 100));
    expect(quiet.take("config_update")).toEqual([]);

    expect((await add(site, creds.id, { name: "web", command: "/bin/true" })).status).toBe(201);
    const v1 = await quiet.next("config_update");
    expect(v1.processes!.processes.map((p) => p.name)).toEqual(["web"]);
    quiet.take("config_update");
    expect((await add(site, creds.id, { name: "api", command: "/bin/true" })).status).toBe(201);
    const v2 = await quiet.next("config_update");
    expect(v2.processes!.version).toBeGreaterThan(v1.processes!.version);
    expect(v2.processes!.processes.map((p) => p.name)).toEqual(["api", "web"]);
    quiet.ws.close(1000, "bye");

    const again = await connectNode(site, creds);
    const onConnect = await again.next("config_update");
    expect(onConnect.processes).toEqual(v2.processes);
    again.ws.close(1000, "bye");
  });
});

describe("events from agents", () => {
  it("are recorded once by id, acknowledged every time, and written to the activity log in order", async () => {
    const site = freshSite();
    const { id, agent } = await connected(site);
    const crash = event("web", "crashed", { pid: 4242, exitCode: 3, uptimeMs: 12_300, attempt: 1, maxAttempts: 5, retryInMs: 1000 });
    const restarted = event("web", "restarted", { pid: 4250 });
    agent.send({ type: "process_events", events: [crash, restarted] });
    expect((await agent.next("process_events_ack")).ids).toEqual([crash.id, restarted.id]);
    agent.take("process_events_ack");

    // The same events again (the agent did not get the ack): acknowledged, not recorded twice.
    agent.send({ type: "process_events", events: [crash, restarted] });
    expect((await agent.next("process_events_ack")).ids).toEqual([crash.id, restarted.id]);
    const gaveUp = event("web", "gave_up", { maxAttempts: 5, reason: "5 relaunch(es) within 300 s, the most allowed; start it again by hand" });
    agent.send({ type: "process_events", events: [gaveUp] });
    await agent.next("process_events_ack");

    expect(await processActivity(site)).toEqual([
      `process web on node ${id} crashed (pid 4242) with exit code 3 after 12 s; relaunch 1 of 5 in 1.0 s`,
      `process web on node ${id} restarted (pid 4250)`,
      `process web on node ${id}: gave up relaunching; 5 relaunch(es) within 300 s, the most allowed; start it again by hand`,
    ]);
    const page = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=process&limit=10`)).json());
    expect(page.entries.map((e) => e.level)).toEqual(["error", "info", "warn"]);
    expect(page.entries[2]!.data).toEqual({ event: crash });
  });

  it("are kept apart per node: the same id from another node is a different event", async () => {
    const site = freshSite();
    const a = await connected(site);
    const b = await connected(site);
    const shared = event("web", "started", { pid: 1 });
    a.agent.send({ type: "process_events", events: [shared] });
    await a.agent.next("process_events_ack");
    b.agent.send({ type: "process_events", events: [shared] });
    await b.agent.next("process_events_ack");
    expect((await processActivity(site)).length).toBe(2);
  });

  it("refuses a malformed event frame without recording anything", async () => {
    const site = freshSite();
    const { agent } = await connected(site);
    for (const events of [[{ ...event("web", "crashed"), id: "not-an-id" }], [{ ...event("../x", "crashed") }], [{ ...event("web", "crashed"), kind: "exploded" }], []]) {
      agent.send({ type: "process_events", events });
      const error = await agent.next("error");
      expect(error.code).toBe("invalid_message");
      agent.take("error");
    }
    expect(agent.take("process_events_ack")).toEqual([]);
    expect(await processActivity(site)).toEqual([]);
  });
});

describe("live status", () => {
  it("reaches members and read keys with the agent's reasons redacted, in the list and on the live socket", async () => {
    const root = await rootSession();
    const site = await newSite();
    const member = await join(site, "member", root);
    const readKey = await createKey((await join(site, "admin", root)).caller, "read");
    const { id, agent } = await connected(site);
    expect((await add(site, id, { name: "web", command: "/bin/true" })).status).toBe(201);
    const { processes: config } = await agent.next("config_update");
    const reason = "refused: DB_PASSWORD=hunter2hunter2 is not accepted";
    const watchers = {
      member: await watch(site, { Cookie: `__Host-cortex_session=${(member.caller as { cookie: string }).cookie}` }, null),
      readKey: await watch(site, {}, readKey.key),
      admin: await watch(site),
    };
    agent.send({ type: "heartbeat", agentId: id, supervision: status(config!.version, [{ name: "web", state: "refused", pid: null, reason }]) });
    await agent.next("heartbeat_ack");

    const pushed = async (viewer: LiveViewer) => {
      await expect.poll(() => viewer.messages.some((m) => m.type === "processes" && m.nodeId === id), { timeout: 3_000 }).toBe(true);
      const message = viewer.messages.find((m) => m.type === "processes" && m.nodeId === id)!;
      return message.type === "processes" ? message.supervision!.processes[0]!.reason : null;
    };
    for (const [viewer, caller] of [[watchers.member, member.caller], [watchers.readKey, readKey.caller]] as const) {
      const listed = await expectJson(await call(caller, processesPath(site, id)), 200, ProcessListResponse);
      expect(listed.processes[0]!.status).toMatchObject({ state: "refused", reason: "refused: DB_PASSWORD=[REDACTED:secret setting] is not accepted" });
      expect(await pushed(viewer)).toBe("refused: DB_PASSWORD=[REDACTED:secret setting] is not accepted");
    }
    expect(await pushed(watchers.admin)).toBe(reason);
    expect((await list(site, id)).processes[0]!.status!.reason).toBe(reason);
    for (const viewer of Object.values(watchers)) viewer.ws.close();
  });

  it("comes with heartbeats, is shown with the list, and events update it at once", async () => {
    const site = freshSite();
    const { id, agent } = await connected(site);
    expect((await add(site, id, { name: "web", command: "/bin/true" })).status).toBe(201);
    const { processes: config } = await agent.next("config_update");
    agent.send({ type: "heartbeat", agentId: id, supervision: status(config!.version, [{ name: "web", pid: 321 }]) });
    await agent.next("heartbeat_ack");
    const listed = await list(site, id);
    expect(listed).toMatchObject({ appliedVersion: config!.version, configVersion: config!.version, timeZone: "Europe/Paris" });
    expect(listed.processes[0]!.status).toMatchObject({ state: "running", pid: 321, cpuPercent: 1.5, memoryBytes: 10_000_000 });

    agent.send({ type: "process_events", events: [event("web", "crashed", { pid: 321, exitCode: 1, uptimeMs: 900, attempt: 1, maxAttempts: 5, retryInMs: 2000 })] });
    await agent.next("process_events_ack");
    const after = (await list(site, id)).processes[0]!.status!;
    expect(after).toMatchObject({ state: "waiting", pid: null, lastExit: { kind: "crashed", code: 1 } });
    expect(after.nextStartAt).toBeGreaterThan(Date.now() - 60_000);
  });

  it("of a node sending heartbeats back to back reaches dashboards at most once a second and its row once, without processes it was not given", async () => {
    const site = freshSite();
    const { id, agent } = await connected(site);
    for (const name of ["p0", "p1"]) expect((await add(site, id, { name, command: "/bin/true" })).status).toBe(201);
    const viewers = [await watch(site), await watch(site), await watch(site)];
    for (const v of viewers) await v.snapshot();
    const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
    const row = () => runInDurableObject(stub, (_hub, state) => state.storage.sql.exec<{ supervision: string; at: number }>("SELECT supervision, supervision_at AS at FROM nodes WHERE id = ?", id).one());
    const reason = "x".repeat(1_000);
    // 32 processes, 30 of them made up, each heartbeat with new reasons.
    const report = (i: number) => status(1, Array.from({ length: 32 }, (_, j) => ({ name: `p${j}`, pid: 1_000 + j, state: "refused" as const, reason: `${i} ${reason}` })));
    const acks = () => agent.received.filter((m) => typeof m !== "string" && m.type === "heartbeat_ack").length;
    const pushes = (v: LiveViewer) => v.messages.flatMap((m) => (m.type === "processes" ? [m] : []));

    // Each statement that writes a report to the row, counted while the burst runs.
    const reportWrites: string[] = [];
    const restore = await runInDurableObject(stub, (_hub, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      sql.exec = ((query: string, ...bindings: SqlStorageValue[]) => {
        if (/supervision = /.test(query) && bindings.some((b) => typeof b === "string" && b.includes(reason))) reportWrites.push(query);
        return exec(query, ...bindings);
      }) as typeof sql.exec;
      return () => (sql.exec = exec);
    });
    const started = Date.now();
    for (let i = 0; i < 200; i++) agent.send({ type: "heartbeat", agentId: id, supervision: report(i) });
    await expect.poll(acks, { timeout: 10_000, interval: 10 }).toBe(200);
    const within = Date.now() - started;
    await runInDurableObject(stub, () => restore());
    expect(reportWrites.length).toBeLessThanOrEqual(Math.ceil(within / 1_000) + 1);
    const firstWrite = (await row()).at;
    await new Promise((r) => setTimeout(r, 1_300));
    for (const v of viewers) {
      expect(pushes(v).length).toBeGreaterThanOrEqual(1);
      expect(pushes(v).length).toBeLessThanOrEqual(Math.ceil(within / 1_000) + 1);
    }
    // Nothing is written after the burst without a heartbeat.
    expect((await row()).at).toBe(firstWrite);

    // The first heartbeat past the gap is written, and pushed within a second.
    agent.send({ type: "heartbeat", agentId: id, supervision: report(200) });
    await expect.poll(acks, { timeout: 3_000, interval: 10 }).toBe(201);
    expect((JSON.parse((await row()).supervision) as SupervisionStatus).processes.map((p) => [p.name, p.reason])).toEqual([
      ["p0", `200 ${reason}`],
      ["p1", `200 ${reason}`],
    ]);
    for (const v of viewers) {
      await expect.poll(() => pushes(v).at(-1)?.supervision?.processes[0]?.reason, { timeout: 3_000 }).toBe(`200 ${reason}`);
      for (const m of pushes(v)) expect(m.supervision!.processes.map((p) => p.name)).toEqual(["p0", "p1"]);
    }
    expect((await list(site, id)).processes.map((p) => [p.name, p.status?.reason])).toEqual([
      ["p0", `200 ${reason}`],
      ["p1", `200 ${reason}`],
    ]);
  });

  it("with metrics too large for the socket's state, sent back to back, writes the row and pushes it whole at most once a second", async () => {
    const site = freshSite();
    const { id, agent } = await connected(site);
    for (const name of ["p0", "p1"]) expect((await add(site, id, { name, command: "/bin/true" })).status).toBe(201);
    const viewers = [await watch(site), await watch(site)];
    for (const v of viewers) await v.snapshot();
    const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
    const reason = "x".repeat(1_000);
    // 64 GPUs with long names: far over what the socket's state holds, so the metrics live in the row.
    const gpus = Array.from({ length: 64 }, (_, j) => ({ name: `G${j}`.padEnd(200, "g"), utilizationPercent: 1, memoryUsedMb: 1, memoryTotalMb: 2 }));
    const metrics = (i: number) => ({ cpuPercent: 1, memoryMb: i, memoryTotalMb: 4000, diskFreeMb: 1, diskTotalMb: 2, activeDirectives: 0, uptimeSeconds: i, gpus });
    const rowWrites = { metrics: 0, reports: 0 };
    const restore = await runInDurableObject(stub, (_hub, state) => {
      const sql = state.storage.sql;
      const exec = sql.exec.bind(sql);
      sql.exec = ((query: string, ...bindings: SqlStorageValue[]) => {
        if (/UPDATE nodes SET last_heartbeat_at/.test(query)) {
          if (bindings.some((b) => typeof b === "string" && b.includes("G63"))) rowWrites.metrics++;
          if (bindings.some((b) => typeof b === "string" && b.includes(reason))) rowWrites.reports++;
        }
        return exec(query, ...bindings);
      }) as typeof sql.exec;
      return () => (sql.exec = exec);
    });
    const acks = () => agent.received.filter((m) => typeof m !== "string" && m.type === "heartbeat_ack").length;
    const started = Date.now();
    for (let i = 0; i < 200; i++) {
      const report = status(1, ["p0", "p1"].map((name) => ({ name, state: "refused" as const, reason: `${i} ${reason}` })));
      agent.send({ type: "heartbeat", agentId: id, metrics: metrics(i), supervision: report });
    }
    await expect.poll(acks, { timeout: 20_000, interval: 10 }).toBe(200);
    const within = Date.now() - started;
    await runInDurableObject(stub, () => restore());
    await new Promise((r) => setTimeout(r, 1_300));
    const most = Math.ceil(within / 1_000) + 1;
    expect(rowWrites.metrics).toBeGreaterThanOrEqual(1);
    expect(rowWrites.metrics).toBeLessThanOrEqual(most);
    expect(rowWrites.reports).toBeLessThanOrEqual(most);
    for (const v of viewers) {
      const rows = v.messages.filter((m) => m.type === "node" && m.node.id === id);
      expect(rows.length).toBeGreaterThanOrEqual(1);
      expect(rows.length).toBeLessThanOrEqual(most);
    }
  });

  it("writes a report to storage only when more than its figures changed, and shows every report at once", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const t0 = (Math.floor(Date.now() / 60_000) + 1) * 60_000;
      vi.setSystemTime(t0 + 100);
      const site = freshSite();
      const { id, agent } = await connected(site);
      for (let i = 0; i < 10; i++) expect((await add(site, id, { name: `p${i}`, command: "/bin/true" })).status).toBe(201);
      const metrics = { cpuPercent: 12.5, memoryMb: 900, memoryTotalMb: 4000, diskFreeMb: 100, diskTotalMb: 200, activeDirectives: 0, uptimeSeconds: 60 };
      const rowsWrittenBy = async (at: number, message: unknown): Promise<number> => {
        vi.setSystemTime(at);
        const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
        // Cursors are summed once the work is done: consuming one here would hide its rows from the code that ran it.
        const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
        const restore = await runInDurableObject(stub, (_hub: SiteHub, state) => {
          const sql = state.storage.sql;
          const exec = sql.exec.bind(sql);
          sql.exec = ((query: string, ...bindings: unknown[]) => {
            const cursor = exec(query, ...(bindings as SqlStorageValue[]));
            cursors.push(cursor);
            return cursor;
          }) as typeof sql.exec;
          return () => (sql.exec = exec);
        });
        agent.send(message);
        await agent.next("heartbeat_ack");
        agent.take("heartbeat_ack");
        await runInDurableObject(stub, () => restore());
        const rows = cursors.reduce((sum, c) => sum + c.rowsWritten, 0);
        return rows;
      };
      const running = status(1, Array.from({ length: 10 }, (_, i) => ({ name: `p${i}` })));
      const busier = { ...running, processes: running.processes.map((p) => ({ ...p, cpuPercent: 80, memoryBytes: 20_000_000 })) };
      const crashed = { ...busier, processes: busier.processes.map((p, i) => (i === 0 ? { ...p, state: "waiting" as const, pid: null } : p)) };
      const rows = {
        bare: await rowsWrittenBy(t0 + 1_000, { type: "heartbeat", agentId: id, metrics }),
        first: await rowsWrittenBy(t0 + 2_000, { type: "heartbeat", agentId: id, metrics, supervision: running }),
        figures: await rowsWrittenBy(t0 + 3_000, { type: "heartbeat", agentId: id, metrics, supervision: busier }),
        state: await rowsWrittenBy(t0 + 4_000, { type: "heartbeat", agentId: id, metrics, supervision: crashed }),
      };
      // Within the minute of its register a bare heartbeat writes nothing; a report whose states changed writes the
      // node's row once; one whose CPU and memory alone moved waits for the minute's write.
      expect(rows).toEqual({ bare: 0, first: 1, figures: 0, state: 1 });
      const listed = await list(site, id);
      expect(listed.reportedAt).toBe(t0 + 4_000);
      expect(listed.processes.find((p) => p.name === "p0")!.status).toMatchObject({ state: "waiting", pid: null, cpuPercent: 80 });
      expect(await rowsWrittenBy(t0 + 5_000, { type: "heartbeat", agentId: id, metrics, supervision: running })).toBe(1);
      expect(await rowsWrittenBy(t0 + 6_000, { type: "heartbeat", agentId: id, metrics, supervision: busier })).toBe(0);
      expect((await list(site, id)).processes[1]!.status).toMatchObject({ cpuPercent: 80, memoryBytes: 20_000_000 });
      // The next minute's first heartbeat writes the node's row with the figures that waited.
      expect(await rowsWrittenBy(t0 + 61_000, { type: "heartbeat", agentId: id })).toBeGreaterThanOrEqual(1);
      const stored = await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (_hub, state) =>
        state.storage.sql.exec<{ supervision: string; supervision_at: number }>("SELECT supervision, supervision_at FROM nodes WHERE id = ?", id).one(),
      );
      expect(stored.supervision_at).toBe(t0 + 6_000);
      expect(JSON.parse(stored.supervision)).toEqual(busier);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("who may do what to a machine's processes", () => {
  it("lets members and read or chat keys look (redacted) but never add, change, remove, start, stop or read logs", async () => {
    const root = await rootSession();
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const member = await join(site, "member", root);
    const readKey = (await createKey(admin.caller, "read")).caller;
    const chatKey = (await createKey(admin.caller, "chat")).caller;
    const nodeRes = await call(admin.caller, `/api/sites/${site}/nodes`, { method: "POST", body: { name: "box", tier: "root" } });
    expect(nodeRes.status).toBe(201);
    const path = `/api/sites/${site}/nodes/box/processes`;
    const spec = { name: "db", command: "/usr/bin/db", args: ["--password", "hunter2hunter2"], env: { DB_PASSWORD: "s3cret-value", MODE: "prod" } };
    expect((await call(admin.caller, path, { method: "POST", body: spec })).status).toBe(201);

    for (const caller of [member.caller, readKey, chatKey]) {
      const listed = await expectJson(await call(caller, path), 200, ProcessListResponse);
      expect(listed.redacted).toBe(true);
      const shown = listed.processes[0]!.spec;
      expect(JSON.stringify(shown)).not.toContain("hunter2hunter2");
      expect(JSON.stringify(shown)).not.toContain("s3cret-value");
      expect(JSON.stringify(shown)).not.toContain("prod");
      expect(Object.keys(shown.env)).toEqual(["DB_PASSWORD", "MODE"]);

      const attempts: [string, string, unknown?][] = [
        ["POST", path, { name: "evil", command: "/bin/sh" }],
        ["PATCH", `${path}/db`, { command: "/bin/sh" }],
        ["PATCH", `${path}/db`, { launchMode: "off" }],
        ["DELETE", `${path}/db`],
        ["POST", `${path}/db/start`],
        ["POST", `${path}/db/stop`],
        ["POST", `${path}/db/restart`],
      ];
      for (const [method, target, body] of attempts) {
        const error = await refusal(await call(caller, target, { method, body }), 403);
        expect(error.code, `${method} ${target}`).toBe("action_not_allowed");
        // Never a tier lower than the change's: adding or changing a command is tier 3.
        expect(error.message, `${method} ${target}`).not.toMatch(/risk tier 2;/);
      }
      const logs = await refusal(await call(caller, `${path}/db/logs`, { method: "POST" }), 403);
      expect(logs.code).toBe("not_readable");
    }
    // The admin sees it whole, and nothing changed.
    const whole = await expectJson(await call(admin.caller, path), 200, ProcessListResponse);
    expect(whole.redacted).toBe(false);
    expect(whole.processes[0]!.spec).toMatchObject(spec);
    expect(whole.processes).toHaveLength(1);
  });

  it("reads a process's log by POST, so another site cannot make an admin's browser run the directive", async () => {
    const root = await rootSession();
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const creds = await registerNode(site, { name: "logs-1", tier: "root" });
    const agent = await connectNode(site, creds, { tier: "root" });
    expect((await call(admin.caller, processesPath(site, creds.id), { method: "POST", body: { name: "db", command: "/usr/bin/db" } })).status).toBe(201);
    const logs = `/api/sites/${site}/nodes/${creds.id}/processes/db/logs?lines=20`;

    expect((await refusal(await call(admin.caller, logs, { method: "POST", headers: { Origin: "https://evil.example" } }), 403)).code).toBe("cross_origin");
    expect([404, 405]).toContain((await call(admin.caller, logs)).status);
    await new Promise((r) => setTimeout(r, 100));
    expect(agent.received.filter((m) => typeof m !== "string" && m.type === "directive")).toEqual([]);

    const pending = call(admin.caller, logs, { method: "POST" });
    const d = await agent.next("directive");
    expect(d).toMatchObject({ action: "supervised.logs", params: { name: "db", lines: 20 } });
    agent.send({ type: "result", directiveId: d.id, success: true, output: "db ready\n", durationMs: 1, exitCode: 0 });
    expect(await (await pending).json()).toEqual({ name: "db", text: "db ready\n" });
  });
});
