import { describe, expect, it } from "vitest";
import { DirectiveView } from "../../protocol/api.ts";
import { DEFAULT_SANDBOX_ROOT } from "../../protocol/tier-policy.ts";
import { call, createKey, expectJson, join, newSite, refusal, rootSession } from "./accounts-support.ts";
import { api, connectNode, freshSite, registerNode } from "./support.ts";

function post(path: string, body: unknown): Promise<Response> {
  return api(path, { method: "POST", body: JSON.stringify(body) });
}

async function nodeOnline(site: string, name: string, tier: "root" | "sudo" | "unprivileged") {
  const creds = await registerNode(site, { name, tier });
  return connectNode(site, creds);
}

describe("machine actions on the hub", () => {
  it("refuses power actions to a sudo node and management to an unprivileged one, without sending them", async () => {
    const site = freshSite();
    const ops = await nodeOnline(site, "ops", "sudo");
    const boxed = await nodeOnline(site, "boxed", "unprivileged");
    const reboot = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/ops/directives`, { action: "system.reboot", params: {} })).json());
    expect(reboot).toMatchObject({ status: "refused", errorCode: "tier_refused", error: "rebooting the machine needs tier root" });
    for (const [action, params] of [
      ["service.manage", { unit: "nginx", operation: "restart" }],
      ["process.signal", { pattern: "^x$", operation: "kill" }],
      ["logs.read", { unit: "nginx" }],
    ] as const) {
      const view = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/boxed/directives`, { action, params })).json());
      expect(view.status, action).toBe("refused");
    }
    expect(ops.take("directive")).toHaveLength(0);
    expect(boxed.take("directive")).toHaveLength(0);
  });

  it("sends diagnostics to an unprivileged node and gives slow actions their own time budget", async () => {
    const site = freshSite();
    const agents = { n1: await nodeOnline(site, "n1", "root"), boxed: await nodeOnline(site, "boxed", "unprivileged") };
    for (const [node, action, params, timeoutMs] of [
      ["boxed", "system.info", {}, 60_000],
      ["n1", "process.signal", { pattern: "^x$", operation: "kill", graceSeconds: 10 }, 40_000 + 15_000],
      ["n1", "disk.clean", { tempOlderThanHours: 24 }, 300_000 + 15_000],
    ] as const) {
      const agent = agents[node];
      const pending = post(`/api/sites/${site}/nodes/${node}/directives`, { action, params });
      const d = await agent.next("directive");
      agent.take("directive");
      expect(d, action).toMatchObject({ action, timeoutMs });
      agent.send({ type: "result", directiveId: d.id, success: true, output: "{}", durationMs: 1 });
      expect(DirectiveView.parse(await (await pending).json()).status).toBe("done");
    }
  });

  it("validates machine action params on the hub: unit names, log paths, patterns", async () => {
    const site = freshSite();
    await nodeOnline(site, "n1", "root");
    for (const [action, params] of [
      ["service.manage", { unit: "--help", operation: "restart" }],
      ["service.manage", { unit: "sshd", operation: "restart" }],
      ["service.status", { unit: "a;b" }],
      ["logs.read", { file: "/etc/shadow" }],
      ["process.signal", { pattern: "", operation: "kill" }],
      ["system.shutdown", { message: "-k" }],
    ] as const) {
      const res = await post(`/api/sites/${site}/nodes/n1/directives`, { action, params });
      expect(res.status, `${action} ${JSON.stringify(params)}`).toBe(400);
    }
  });

  it("fails at once, without sending, an action the node's agent is too old to know", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "old", tier: "root" });
    const agent = await connectNode(site, creds, { capabilities: ["bash", "read", "write", "edit", "glob", "grep"], version: "0.0.9" });
    const view = DirectiveView.parse(await (await post(`/api/sites/${site}/nodes/old/directives`, { action: "system.info", params: {} })).json());
    expect(view).toMatchObject({ status: "failed", errorCode: "unsupported", error: "the agent on old (version 0.0.9) does not know system.info; update it to use it" });
    expect(agent.take("directive")).toHaveLength(0);
    const pending = post(`/api/sites/${site}/nodes/old/directives`, { action: "read", params: { path: "/etc/hostname" } });
    const d = await agent.next("directive");
    agent.send({ type: "result", directiveId: d.id, success: true, output: "box", durationMs: 1 });
    expect(DirectiveView.parse(await (await pending).json()).status).toBe("done");
  });

  it("records an agent's refusal to touch a protected process as refused", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1", "root");
    const pending = post(`/api/sites/${site}/nodes/n1/directives`, { action: "process.signal", params: { pattern: "^sshd$", operation: "kill" } });
    const d = await agent.next("directive");
    agent.send({ type: "directive_ack", directiveId: d.id });
    agent.send({ type: "result", directiveId: d.id, success: false, output: "{}", durationMs: 3, errorCode: "protected", error: "every process matching \"^sshd$\" is protected; nothing was signalled" });
    const view = DirectiveView.parse(await (await pending).json());
    expect(view).toMatchObject({ status: "refused", errorCode: "protected" });
  });
});

describe("machine actions for callers who may only read", () => {
  it("runs diagnostics confined, refuses paths outside the readable ones, and management outright", async () => {
    const root = await rootSession();
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const member = await join(site, "member", root);
    const agent = await connectNode(site, await registerNode(site, { name: "box", tier: "root" }));
    const chatKey = (await createKey(admin.caller, "chat")).caller;
    const run = (caller: typeof member.caller, action: string, params: unknown) => call(caller, `/api/sites/${site}/nodes/box/directives`, { body: { action, params } });

    for (const caller of [member.caller, chatKey]) {
      for (const [action, params] of [
        ["system.info", {}],
        ["process.list", { filter: "nginx" }],
        ["logs.read", { unit: "nginx" }],
        ["logs.read", { file: "/var/log/syslog" }],
        ["list", { path: "/var/log" }],
      ] as const) {
        const pending = run(caller, action, params);
        const d = await agent.next("directive");
        agent.take("directive");
        expect(d, action).toMatchObject({ action, confineTo: [DEFAULT_SANDBOX_ROOT, "/var/log"] });
        agent.send({ type: "result", directiveId: d.id, success: true, output: "{}", durationMs: 1 });
        expect((await expectJson(await pending, 200, DirectiveView)).status).toBe("done");
      }
      expect((await refusal(await run(caller, "list", { path: "/root" }), 403)).code).toBe("not_readable");
      expect((await refusal(await run(caller, "disk.usage", { path: "/home" }), 403)).code).toBe("not_readable");
      expect((await refusal(await run(caller, "service.manage", { unit: "nginx", operation: "restart" }), 403)).code).toBe("action_not_allowed");
      expect((await refusal(await run(caller, "process.signal", { pattern: "x", operation: "kill" }), 403)).code).toBe("action_not_allowed");
    }

    const patched = await call(admin.caller, `/api/sites/${site}/settings`, { method: "PATCH", body: { readablePaths: ["/srv/app/logs"] } });
    expect(patched.status).toBe(200);
    const journal = await refusal(await run(member.caller, "logs.read", { unit: "nginx" }), 403);
    expect(journal).toMatchObject({ code: "not_readable", message: expect.stringContaining("the journal is kept in /var/log/journal") });
    expect(agent.take("directive")).toHaveLength(0);
  });
});
