import { beforeAll, describe, expect, it } from "vitest";
import { ActivityPage, DirectiveListResponse, DirectiveView, FanOutResponse, RunRecord } from "../../protocol/api.ts";
import type { ResultData } from "../../protocol/directives.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { DEFAULT_SANDBOX_ROOT } from "../../protocol/tier-policy.ts";
import { call, createKey, expectJson, join, newSite, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";
import { connectNode, FakeAgent, registerNode } from "./support.ts";

/**
 * Who may read what: members and read or chat keys (callers capped at risk tier 1) read, find and search only in
 * the site's readable paths. The hub refuses the rest before anything is sent, and sends the folders it allows as
 * `confineTo`, which the agent enforces on what it really opens (a symlink in /var/log is the agent's to catch).
 */

let site: string;
let root: Caller;
let admin: Person;
let member: Person;
/** A root-tier node, where an admin's CLI config and the hub's .dev.vars would be readable by anyone unconfined. */
let box: FakeAgent;
/** A sudo-tier node whose agent reports its own sandbox folder. */
let build: FakeAgent;
const BUILD_SANDBOX = "/home/cortex/sandbox";

beforeAll(async () => {
  root = await rootSession();
  site = await newSite();
  admin = await join(site, "admin", root);
  member = await join(site, "member", root);
  box = await connectNode(site, await registerNode(site, { name: "box", tier: "root" }));
  build = await connectNode(site, await registerNode(site, { name: "build", tier: "sudo" }), { tier: "sudo", sandboxRoot: BUILD_SANDBOX });
});

function read(caller: Caller, node: string, path: string): Promise<Response> {
  return call(caller, `/api/sites/${site}/nodes/${node}/directives`, { body: { action: "read", params: { path } } });
}

/** Plays the agent: acknowledges a directive and answers with `output`. */
function answer(agent: FakeAgent, d: DirectiveMessage, output: string, data?: ResultData): void {
  agent.send({ type: "directive_ack", directiveId: d.id });
  agent.send({ type: "result", directiveId: d.id, success: true, output, durationMs: 1, exitCode: 0, ...(data ? { data } : {}) });
}

async function directiveCount(): Promise<number> {
  return (await expectJson(await call(root, `/api/sites/${site}/directives?limit=500`), 200, DirectiveListResponse)).directives.length;
}

/** Lets frames in flight land, then says whether any directive reached these agents. */
async function nothingSent(...agents: FakeAgent[]): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 50));
  return agents.every((a) => a.take("directive").length === 0);
}

describe("a member or a read-only key reading outside the readable paths", () => {
  const ATTACKS: [string, string][] = [
    ["an admin's CLI config on a root node", "/root/.config/cortex/config.json"],
    ["the hub's .dev.vars in a checkout", "/srv/cortex-hub/.dev.vars"],
    ["a path that climbs out of /var/log", "/var/log/../../root/.config/cortex/config.json"],
    ["a folder that only starts like /var/log", "/var/logs/../../etc/shadow"],
    ["a sibling of /var/log", "/var/log-archive/secrets"],
    ["/etc/shadow", "/etc/shadow"],
  ];

  it.each(ATTACKS)("is refused before anything is sent: %s", async (_what, path) => {
    const keys = {
      readKey: (await createKey(admin.caller, "read")).caller,
      chatKey: (await createKey(admin.caller, "chat")).caller,
      adminKeyOfMember: (await createKey(member.caller, "admin")).caller,
    };
    const before = await directiveCount();
    for (const [who, caller] of Object.entries({ member: member.caller, ...keys })) {
      const error = await refusal(await read(caller, "box", path), 403);
      expect(error.code, who).toBe("not_readable");
      expect(error.message, who).toContain("needs a site admin");
    }
    expect(await nothingSent(box, build)).toBe(true);
    expect(await directiveCount()).toBe(before);
  });

  it("cannot search its way out: glob and grep patterns that leave the folder are refused", async () => {
    const attempts = [
      { action: "glob", params: { path: "/var/log", pattern: "../../root/**" } },
      { action: "glob", params: { path: "/var/log", pattern: "/root/.ssh/*" } },
      { action: "grep", params: { path: "/var/log", pattern: "BEGIN", glob: "../../root/**" } },
      { action: "grep", params: { path: "/root", pattern: "cxk_" } },
    ];
    for (const body of attempts) {
      const error = await refusal(await call(member.caller, `/api/sites/${site}/nodes/box/directives`, { body }), 403);
      expect(error.code).toBe("not_readable");
    }
    expect(await nothingSent(box)).toBe(true);
  });

  it("cannot read a long run's output with run.status, which is not a readable path", async () => {
    const body = { action: "run.status", params: { runId: "run-abc" } };
    const error = await refusal(await call(member.caller, `/api/sites/${site}/nodes/box/directives`, { body }), 403);
    expect(error.code).toBe("not_readable");
    expect(await nothingSent(box)).toBe(true);
  });

  it("fans out to nobody: every node refuses the read and no agent receives it", async () => {
    const body = { action: "read", params: { path: "/root/.config/cortex/config.json" }, target: { all: true } };
    const outcome = await expectJson(await call(member.caller, `/api/sites/${site}/fanouts`, { body }), 200, FanOutResponse);
    expect(outcome.aggregate).toMatchObject({ total: 2, refused: 2, succeeded: 0 });
    expect(outcome.directives.map((d) => d.errorCode)).toEqual(["not_readable", "not_readable"]);
    expect(await nothingSent(box, build)).toBe(true);
  });
});

describe("a read inside the readable paths", () => {
  it("is sent with confineTo: the site's folders, with 'sandbox' as the node's own sandbox", async () => {
    const pending = read(member.caller, "box", "/var/log/link-to-root-config");
    const d = await box.next("directive");
    box.take("directive");
    expect(d.confineTo).toEqual([DEFAULT_SANDBOX_ROOT, "/var/log"]);
    answer(box, d, "");
    expect((await expectJson(await pending, 200, DirectiveView)).status).toBe("done");

    const inSandbox = read(member.caller, "build", `${BUILD_SANDBOX}/notes.txt`);
    const d2 = await build.next("directive");
    build.take("directive");
    expect(d2.confineTo).toEqual([BUILD_SANDBOX, "/var/log"]);
    answer(build, d2, "notes\n");
    expect((await expectJson(await inSandbox, 200, DirectiveView)).output).toBe("notes\n");
  });

  it("by a read key is confined the same way; an admin's read is not confined", async () => {
    const readKey = (await createKey(admin.caller, "read")).caller;
    const pending = read(readKey, "box", "/var/log/syslog");
    const d = await box.next("directive");
    box.take("directive");
    expect(d.confineTo).toEqual([DEFAULT_SANDBOX_ROOT, "/var/log"]);
    answer(box, d, "");
    await pending;

    for (const caller of [admin.caller, (await createKey(admin.caller, "admin")).caller]) {
      const anywhere = read(caller, "box", "/root/.bashrc");
      const d2 = await box.next("directive");
      box.take("directive");
      expect(d2.confineTo).toBeUndefined();
      answer(box, d2, "");
      expect((await expectJson(await anywhere, 200, DirectiveView)).status).toBe("done");
    }
  });

  it("is fanned out to each node with that node's own folders", async () => {
    const body = { action: "grep", params: { path: "/var/log", pattern: "error" }, target: { all: true } };
    const pending = call(member.caller, `/api/sites/${site}/fanouts`, { body });
    const [d1, d2] = [await box.next("directive"), await build.next("directive")];
    box.take("directive");
    build.take("directive");
    expect(d1.confineTo).toEqual([DEFAULT_SANDBOX_ROOT, "/var/log"]);
    expect(d2.confineTo).toEqual([BUILD_SANDBOX, "/var/log"]);
    answer(box, d1, "");
    answer(build, d2, "");
    expect((await expectJson(await pending, 200, FanOutResponse)).aggregate).toMatchObject({ succeeded: 2 });
  });

  it("follows the site's setting from the next request on", async () => {
    const other = await newSite();
    const otherAdmin = await join(other, "admin", root);
    const otherMember = await join(other, "member", root);
    const agent = await connectNode(other, await registerNode(other, { name: "logs", tier: "root" }));
    const readThere = (path: string) => call(otherMember.caller, `/api/sites/${other}/nodes/logs/directives`, { body: { action: "read", params: { path } } });

    const patched = await call(otherAdmin.caller, `/api/sites/${other}/settings`, { method: "PATCH", body: { readablePaths: ["/srv/app/logs"] } });
    expect(patched.status).toBe(200);
    expect((await refusal(await readThere("/var/log/syslog"), 403)).code).toBe("not_readable");
    expect((await refusal(await readThere(`${DEFAULT_SANDBOX_ROOT}/x`), 403)).code).toBe("not_readable");

    const pending = readThere("/srv/app/logs/app.log");
    const d = await agent.next("directive");
    expect(d.confineTo).toEqual(["/srv/app/logs"]);
    answer(agent, d, "");
    await pending;

    await call(otherAdmin.caller, `/api/sites/${other}/settings`, { method: "PATCH", body: { readablePaths: [] } });
    const error = await refusal(await readThere("/srv/app/logs/app.log"), 403);
    expect(error.message).toContain("no readable paths");
  });
});

describe("what a member sees of other people's directives", () => {
  const SECRET_COMMAND = "curl -H 'Authorization: Bearer sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789' https://api.example.com";
  const SECRET_OUTPUT = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";

  async function run(caller: Caller, node: FakeAgent, nodeId: string, body: unknown, output: string, data?: ResultData): Promise<DirectiveView> {
    const pending = call(caller, `/api/sites/${site}/nodes/${nodeId}/directives`, { body });
    const d = await node.next("directive");
    node.take("directive");
    answer(node, d, output, data);
    return expectJson(await pending, 200, DirectiveView);
  }

  function asSeenBy(caller: Caller, id: string): Promise<DirectiveView> {
    return call(caller, `/api/sites/${site}/directives/${id}`).then((res) => expectJson(res, 200, DirectiveView));
  }

  it("an admin's shell command: parameters redacted, output withheld; the admin sees it whole", async () => {
    const ran = await run(admin.caller, box, "box", { action: "bash", params: { command: SECRET_COMMAND } }, SECRET_OUTPUT);
    expect(ran.output).toBe(SECRET_OUTPUT);

    for (const viewer of [member.caller, (await createKey(admin.caller, "read")).caller]) {
      const seen = await asSeenBy(viewer, ran.id);
      expect(JSON.stringify(seen.params)).not.toContain("sk-ant-api03");
      expect(JSON.stringify(seen.params)).toContain("[REDACTED:");
      expect(seen).toMatchObject({ output: null, outputWithheld: true, status: "done", exitCode: 0, requestedBy: admin.email });
      const listed = await expectJson(await call(viewer, `/api/sites/${site}/directives?node=box`), 200, DirectiveListResponse);
      expect(JSON.stringify(listed)).not.toContain("sk-ant-api03");
    }
    const own = await asSeenBy(admin.caller, ran.id);
    expect(own).toMatchObject({ output: SECRET_OUTPUT, outputWithheld: false, params: { command: SECRET_COMMAND } });
  });

  it("an admin's long run: its output tail withheld from members and read keys, its reason redacted; the admin sees both", async () => {
    const ran = await run(admin.caller, box, "box", { action: "run.launch", params: { command: "pg_dump customers", name: "dump" } }, "");
    const runId = `run-dump-${ran.id.slice(0, 8)}`;
    const reason = "failed: DB_PASSWORD=hunter2hunter2 rejected";
    box.send({ type: "run_complete", runId, directiveId: ran.id, state: "failed", exitCode: 1, reason, outputTail: SECRET_OUTPUT, startedAt: 1_000, endedAt: 2_000 });
    await box.next("run_complete_ack");
    const path = `/api/sites/${site}/nodes/box/runs/${runId}`;
    for (const viewer of [member.caller, (await createKey(admin.caller, "read")).caller, (await createKey(admin.caller, "chat")).caller]) {
      const seen = await expectJson(await call(viewer, path), 200, RunRecord);
      expect(seen.ended).toMatchObject({ state: "failed", exitCode: 1, outputTail: "", outputWithheld: true });
      expect(seen.ended!.reason).toContain("[REDACTED:");
      expect(JSON.stringify(seen)).not.toContain("hunter2");
    }
    const whole = await expectJson(await call(admin.caller, path), 200, RunRecord);
    expect(whole.ended).toMatchObject({ outputTail: SECRET_OUTPUT, reason });
  });

  it("an admin's run.status and process start: the agent's reasons in their data reach members redacted", async () => {
    const reason = "failed: DB_PASSWORD=hunter2hunter2 rejected";
    const status = await run(admin.caller, box, "box", { action: "run.status", params: { runId: "run-dump-1" } }, "", { kind: "run_status", runId: "run-dump-1", state: "failed", exitCode: 1, reason });
    const process = { name: "api", state: "refused", pid: null, startedAt: null, restarts: 0, lastExit: null, cpuPercent: null, memoryBytes: null, held: null, nextStartAt: null, reason } as const;
    const started = await run(admin.caller, box, "box", { action: "supervised.start", params: { name: "api" } }, "", { kind: "process", status: process });
    for (const viewer of [member.caller, (await createKey(admin.caller, "read")).caller]) {
      const seenStatus = await asSeenBy(viewer, status.id);
      expect(seenStatus.data).toMatchObject({ kind: "run_status", state: "failed", reason: "failed: DB_PASSWORD=[REDACTED:secret setting] rejected" });
      const seenStart = await asSeenBy(viewer, started.id);
      expect(seenStart.data).toMatchObject({ kind: "process", status: { name: "api", state: "refused", reason: "failed: DB_PASSWORD=[REDACTED:secret setting] rejected" } });
      const listed = await expectJson(await call(viewer, `/api/sites/${site}/directives?node=box`), 200, DirectiveListResponse);
      expect(JSON.stringify(listed)).not.toContain("hunter2");
    }
    expect((await asSeenBy(admin.caller, status.id)).data).toMatchObject({ reason });
  });

  it("an admin's unconfined read of a file: output withheld even inside /var/log, where a link could lead anywhere", async () => {
    const ran = await run(admin.caller, box, "box", { action: "read", params: { path: "/var/log/app.log" } }, "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n");
    expect(await asSeenBy(member.caller, ran.id)).toMatchObject({ output: null, outputWithheld: true });
  });

  it("a confined read, another's or one's own: output shown with secrets redacted, live and afterwards", async () => {
    const other = await join(site, "member", root, "other-member");
    const ran = await run(other.caller, box, "box", { action: "read", params: { path: "/var/log/app.log" } }, `line 1\n${SECRET_OUTPUT}`);
    for (const seen of [ran, await asSeenBy(other.caller, ran.id), await asSeenBy(member.caller, ran.id)]) {
      expect(seen.outputWithheld).toBe(false);
      expect(seen.output).toContain("line 1\naws_secret_access_key = [REDACTED:");
      expect(seen.output).not.toContain("wJalrXUtnFEMI");
    }
    expect((await asSeenBy(admin.caller, ran.id)).output).toBe(`line 1\n${SECRET_OUTPUT}`);
  });

  it("a confined requester's event stream has no raw chunks, where a secret could be split in two, only the redacted result", async () => {
    const pending = call(member.caller, `/api/sites/${site}/nodes/box/directives`, {
      body: { action: "read", params: { path: "/var/log/app.log" } },
      headers: { Accept: "text/event-stream" },
    });
    const d = await box.next("directive");
    box.take("directive");
    box.send({ type: "directive_ack", directiveId: d.id });
    const halves = ["aws_secret_access_key = wJalrXUtnF", "EMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"];
    halves.forEach((chunk, seq) => box.send({ type: "stream_chunk", directiveId: d.id, seq, chunk }));
    box.send({ type: "result", directiveId: d.id, success: true, output: halves.join(""), durationMs: 1, exitCode: 0, chunks: 2 });
    const text = await (await pending).text();
    expect(text).not.toContain("wJalrXUtnF");
    expect(text).not.toContain('"event":"chunk"');
    expect(text).toContain('"event":"result"');
    expect(text).toContain("[REDACTED:");
  });

  it("an admin's directive that finished late: its late output is withheld from members too", async () => {
    const creds = await registerNode(site, { name: "flaky", tier: "root" });
    let agent = await connectNode(site, creds);
    const pending = call(admin.caller, `/api/sites/${site}/nodes/flaky/directives`, { body: { action: "bash", params: { command: "cat secrets" } } });
    const d = await agent.next("directive");
    agent.ws.close(1000, "gone");
    await agent.waitClose();
    expect((await expectJson(await pending, 200, DirectiveView)).status).toBe("lost");
    agent = await connectNode(site, creds);
    agent.send({ type: "result", directiveId: d.id, success: true, output: SECRET_OUTPUT, durationMs: 1, exitCode: 0 });
    const late = async (caller: Caller) => {
      for (let i = 0; i < 50; i++) {
        const seen = await asSeenBy(caller, d.id);
        if (seen.lateResult) return seen;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error("no late result");
    };
    expect((await late(admin.caller)).lateResult!.output).toBe(SECRET_OUTPUT);
    const seen = await late(member.caller);
    expect(seen.lateResult!.output).toBe("");
    expect(seen.outputWithheld).toBe(true);
  });

  it("the activity log: what agents reported is redacted for members", async () => {
    const pending = call(admin.caller, `/api/sites/${site}/nodes/box/directives`, { body: { action: "bash", params: { command: "deploy" } } });
    const d = await box.next("directive");
    box.take("directive");
    box.send({ type: "result", directiveId: d.id, success: false, output: "", error: "login failed with password=hunter2hunter2", durationMs: 1, exitCode: 1 });
    await pending;
    const asMember = await expectJson(await call(member.caller, `/api/sites/${site}/activity?kind=directive&limit=5`), 200, ActivityPage);
    const asAdmin = await expectJson(await call(admin.caller, `/api/sites/${site}/activity?kind=directive&limit=5`), 200, ActivityPage);
    expect(JSON.stringify(asAdmin.entries)).toContain("hunter2hunter2");
    expect(JSON.stringify(asMember.entries)).not.toContain("hunter2hunter2");
    expect(JSON.stringify(asMember.entries)).toContain("[REDACTED:secret setting]");
  });
});
