import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { isProcessTool, runProcessTool, type ProcessToolHub } from "../../durable-objects/site-hub/process-tools.ts";
import type { Requester } from "../../durable-objects/site-hub/requester.ts";
import { ProcessListResponse, type ProcessStatus } from "../../protocol/processes.ts";
import { prepareToolCall } from "../../protocol/tools/index.ts";
import { api, connectNode, ensureSite, freshSite, registerNode, runningProcess, type FakeAgent } from "./support.ts";

const ADMIN: Requester = { actor: "chat c-1 (admin@example.com)", userId: "u-admin", confined: false };
const MEMBER: Requester = { actor: "chat c-2 (member@example.com)", userId: "u-member", confined: true };

async function hubOf(site: string): Promise<ProcessToolHub> {
  await ensureSite(site);
  // The chat calls the site's object through its stub, as here.
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site)) as unknown as ProcessToolHub;
}

/** Runs a tool as the chat would: its input parsed by the catalog first. */
async function tool(hub: ProcessToolHub, name: string, input: unknown, requester = ADMIN) {
  const prepared = prepareToolCall(name, input, { riskCap: 3 });
  if (!prepared.ok) return { ok: false, text: `invalid: ${prepared.message}` };
  if (prepared.run.on !== "hub" || !isProcessTool(prepared.run.handler)) throw new Error(`${name} is not a process tool`);
  return runProcessTool(prepared.run.handler, hub, prepared.run.input, requester);
}

const RUNNING = runningProcess("api", 77, 0);

/** Answers the next supervised.* directive the way an agent does. */
async function answerDirective(agent: FakeAgent, output: string, status: ProcessStatus | null, success = true): Promise<Record<string, unknown>> {
  const d = await agent.next("directive");
  agent.take("directive");
  agent.send({ type: "directive_ack", directiveId: d.id });
  agent.send({ type: "result", directiveId: d.id, success, output, durationMs: 3, exitCode: null, ...(status ? { data: { kind: "process", status } } : {}), ...(success ? {} : { error: output, errorCode: "exec_failed" }) });
  return { action: d.action, params: d.params };
}

describe("the chat's process tools", () => {
  it("add, list, change and remove through the same validated site code as the API", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "web-1", tier: "root" });
    const hub = await hubOf(site);

    const added = await tool(hub, "add_process", { machine: creds.id, name: "api", command: "/usr/bin/node", args: ["server.js"], env: [{ name: "PORT", value: "8080" }] });
    expect(added).toEqual({ ok: true, text: "Added api on web-1: /usr/bin/node server.js (launch always). The agent starts it when its launch mode says so." });
    const listed = ProcessListResponse.parse(await (await api(`/api/sites/${site}/nodes/${creds.id}/processes`)).json());
    expect(listed.processes[0]!.spec).toMatchObject({ command: "/usr/bin/node", env: { PORT: "8080" } });
    expect(listed.processes[0]!.updatedBy).toBe(ADMIN.actor);

    expect(await tool(hub, "add_process", { machine: creds.id, name: "api", command: "/bin/true" })).toEqual({ ok: false, text: "Not done: node web-1 already has a process named api" });
    expect((await tool(hub, "add_process", { machine: creds.id, name: "x", command: "/bin/true", env: [{ name: "LD_PRELOAD", value: "/tmp/x.so" }] })).text).toMatch(/^Not done: node web-1 \(tier root\) may not supervise this: environment variable LD_PRELOAD is refused/);
    expect((await tool(hub, "add_process", { machine: creds.id, name: "x", command: "/bin/true", env: [{ name: "A", value: "1" }, { name: "A", value: "2" }] })).text).toBe("Not done: environment variable A is given twice");
    expect((await tool(hub, "add_process", { machine: creds.id, name: "../x", command: "/bin/true" })).text).toMatch(/^invalid: invalid input for add_process: name:/);
    expect((await tool(hub, "add_process", { machine: "ghost", name: "x", command: "/bin/true" })).text).toBe("Not done: node ghost not found");

    const text = (await tool(hub, "get_process_list", { machine: creds.id })).text;
    expect(text).toContain("1 supervised process(es) on web-1 (the agent has not reported this list yet):");
    expect(text).toContain("- api: no report from the agent yet\n  runs /usr/bin/node server.js; launch always");

    expect((await tool(hub, "set_launch_mode", { machine: creds.id, name: "api", launchMode: "scheduled" })).text).toBe("Not done: schedule: launch mode scheduled needs at least one window");
    expect(await tool(hub, "set_launch_mode", { machine: creds.id, name: "api", launchMode: "scheduled", schedule: [{ days: ["mon"], start: "22:00", end: "06:00" }] })).toEqual({
      ok: true,
      text: "api on web-1 now runs: scheduled mon 22:00-06:00.",
    });
    const updated = await tool(hub, "update_process", { machine: creds.id, name: "api", args: ["server.js", "--workers", "4"] });
    expect(updated).toEqual({ ok: true, text: "Updated api on web-1 (args); now: /usr/bin/node server.js --workers 4, launch scheduled." });
    expect(await tool(hub, "delete_process", { machine: creds.id, name: "api" })).toEqual({ ok: true, text: "Removed api from web-1; its agent stops it." });
    expect((await tool(hub, "delete_process", { machine: creds.id, name: "api" })).text).toBe("Not done: no process api on node web-1");
  });

  it("show a confined reader the list with secrets out, and never the output of a secret in a log", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "db-1", tier: "root" });
    const hub = await hubOf(site);
    await tool(hub, "add_process", { machine: creds.id, name: "db", command: "/usr/bin/db", args: ["--password", "hunter2hunter2"], env: [{ name: "DB_PASSWORD", value: "s3cret-v4lue" }] });
    const asMember = (await tool(hub, "get_process_list", { machine: creds.id }, MEMBER)).text;
    expect(asMember).not.toContain("hunter2hunter2");
    expect(asMember).not.toContain("s3cret-v4lue");
    // Even an admin's model gets tool output through the redactor.
    expect((await tool(hub, "get_process_list", { machine: creds.id })).text).not.toContain("hunter2hunter2");
    const logs = await tool(hub, "get_process_logs", { machine: creds.id, name: "db" }, MEMBER);
    expect(logs.ok).toBe(false);
    expect(logs.text).toMatch(/^Not done: supervised\.logs needs a site admin/);
  });

  it("start, stop and restart by a directive to the agent, and read its log", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "web-2", tier: "root" });
    const agent = await connectNode(site, creds);
    const hub = await hubOf(site);
    await tool(hub, "add_process", { machine: creds.id, name: "api", command: "/usr/bin/node" });

    const starting = tool(hub, "start_process", { machine: creds.id, name: "api" });
    expect(await answerDirective(agent, "started api (pid 77)\n", RUNNING)).toEqual({ action: "supervised.start", params: { name: "api" } });
    const started = await starting;
    expect(started.ok).toBe(true);
    expect(started.text).toMatch(/^started api \(pid 77\)\nNow: running, pid 77, up \d+s, 0 restart\(s\)$/);

    const stopping = tool(hub, "stop_process", { machine: creds.id, name: "api" });
    expect((await answerDirective(agent, "not running", null, false)).action).toBe("supervised.stop");
    expect(await stopping).toEqual({ ok: false, text: "Could not stop api: not running" });

    const reading = tool(hub, "get_process_logs", { machine: creds.id, name: "api", lines: 20 });
    expect(await answerDirective(agent, "listening on 8080\n", null)).toEqual({ action: "supervised.logs", params: { name: "api", lines: 20 } });
    expect(await reading).toEqual({ ok: true, text: "Last lines of api on web-2:\nlistening on 8080\n" });

    expect((await tool(hub, "restart_process", { machine: creds.id, name: "nope" })).text).toBe("Not done: no process nope on node web-2");
    agent.ws.close(1000, "bye");
  });
});
