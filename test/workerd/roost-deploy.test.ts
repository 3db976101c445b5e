import { describe, expect, it } from "vitest";
import { ActivityPage, ApiError, DirectiveView, NodeCredentials } from "../../protocol/api.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { DeploymentEvent, DeploymentView, type DeploymentRequest } from "../../protocol/roost-api.ts";
import { call, createKey, join, newSite, rootSession, type Caller } from "./accounts-support.ts";
import { api, freshSite, type FakeAgent } from "./support.ts";
import { bytesOf, fileOf, nodeGet, pushVersion, roostNode } from "./roost-support.ts";

interface Machine {
  id: string;
  token: string;
  agent: FakeAgent;
}

async function fleet(site: string, count: number, prefix = "m"): Promise<Machine[]> {
  const machines: Machine[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${String(i).padStart(2, "0")}`;
    machines.push({ id, ...(await roostNode(site, id)) });
  }
  return machines;
}

async function deploy(site: string, roost: string, body: DeploymentRequest, kind: "deployments" | "rollbacks" = "deployments"): Promise<DeploymentView> {
  const res = await api(`/api/sites/${site}/roosts/${roost}/${kind}`, { method: "POST", body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`deploy: ${res.status} ${await res.text()}`);
  return DeploymentView.parse(await res.json());
}

async function view(site: string, id: string): Promise<DeploymentView> {
  return DeploymentView.parse(await (await api(`/api/sites/${site}/roost/deployments/${id}`)).json());
}

function post(site: string, path: string): Promise<Response> {
  return api(`/api/sites/${site}${path}`, { method: "POST" });
}

const PROGRESS = { phase: "download", bytesDone: 10, bytesTotal: 20, chunksDone: 1, chunksTotal: 2 } as const;

/** The agent's first reports on a roost directive: the ack, then how far the download has come. */
function report(agent: FakeAgent, d: DirectiveMessage): void {
  agent.send({ type: "directive_ack", directiveId: d.id });
  agent.send({ type: "directive_progress", directiveId: d.id, progress: PROGRESS });
}

/** The agent's last word on a roost directive: success or failure. */
function conclude(agent: FakeAgent, d: DirectiveMessage, ok: boolean): void {
  const data = { kind: "roost", roost: "app", version: 1, folder: "/srv/app/versions/1", downloadedBytes: 20, downloadedChunks: 2, reusedChunks: 0, previousVersion: null };
  agent.send(
    ok
      ? { type: "result", directiveId: d.id, success: true, output: "", durationMs: 5, exitCode: null, data }
      : { type: "result", directiveId: d.id, success: false, output: "", durationMs: 5, error: "the after command failed", errorCode: "exec_failed" },
  );
}

/** Plays the agent's side of one roost directive: ack, a progress report, then success or failure. */
function finish(agent: FakeAgent, d: DirectiveMessage, ok: boolean): void {
  report(agent, d);
  conclude(agent, d, ok);
}

/** A deployment's event stream, read as it arrives, so that a test can act between two events. */
function eventsOf(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen: DeploymentEvent[] = [];
  let buffer = "";
  /** The next event, or null once the stream has ended. */
  async function next(): Promise<DeploymentEvent | null> {
    for (;;) {
      const cut = buffer.indexOf("\n\n");
      if (cut >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        if (!frame.startsWith("data: ")) continue;
        const event = DeploymentEvent.parse(JSON.parse(frame.slice(6)));
        seen.push(event);
        return event;
      }
      const { value, done } = await reader.read();
      if (done) return null;
      buffer += value;
    }
  }
  return {
    next,
    /** Reads on to the first event that matches, failing if the stream ends first. */
    async until(what: string, match: (e: DeploymentEvent) => boolean): Promise<DeploymentEvent> {
      for (;;) {
        const event = await next();
        if (!event) throw new Error(`the stream ended before ${what}; it held: ${seen.map((e) => e.event).join(", ")}`);
        if (match(event)) return event;
      }
    },
    /** Every event from here to the end of the stream. */
    async rest(): Promise<DeploymentEvent[]> {
      const out: DeploymentEvent[] = [];
      for (let e = await next(); e; e = await next()) out.push(e);
      return out;
    },
  };
}

/** The roost directives each machine has been sent so far (taking them off the agent's queue). */
function sent(machines: Machine[]): Map<string, DirectiveMessage> {
  const out = new Map<string, DirectiveMessage>();
  for (const m of machines) for (const d of m.agent.take("directive")) out.set(m.id, d);
  return out;
}

/** Waits until `count` machines have been sent a directive, collecting them across polls. */
function sentTo(machines: Machine[], count: number): Promise<Map<string, DirectiveMessage>> {
  const seen = new Map<string, DirectiveMessage>();
  return until(`${count} machine(s) to be sent a directive`, () => {
    for (const [node, d] of sent(machines)) seen.set(node, d);
    return seen.size >= count ? seen : undefined;
  });
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stateIs(site: string, id: string, state: DeploymentView["state"]): Promise<DeploymentView> {
  return until(`deployment ${id} to be ${state}`, async () => {
    const v = await view(site, id);
    return v.state === state ? v : undefined;
  });
}

async function setUp(count: number) {
  const site = freshSite();
  const file = await fileOf("index.html", bytesOf(300, 1));
  const version = await pushVersion(site, "app", [file]);
  const machines = await fleet(site, count);
  return { site, version, machines, hash: file.entry.type === "file" ? file.entry.chunks[0]! : "" };
}

describe("roost deployments", () => {
  it("sends the canary first, then the rest once it succeeded, and records every machine's outcome", async () => {
    const { site, version, machines } = await setUp(10);
    const d = await deploy(site, "app", { version: 1, target: { all: true }, path: "/srv/{node}/app", concurrency: 4 });
    expect(d).toMatchObject({ state: "canary", path: "/srv/{node}/app", counts: { total: 10, canary: 1 } });

    const canary = await sentTo(machines, 1);
    expect(canary.size).toBe(1);
    const [canaryNode, first] = [...canary][0]!;
    expect(first).toMatchObject({ action: "roost.deploy", params: { roost: "app", version: 1, path: `/srv/${canaryNode}/app`, manifestSha256: version.manifestSha256, keep: 3 } });
    await new Promise((r) => setTimeout(r, 100));
    expect(sent(machines).size, "nobody else before the canary ends").toBe(0);

    finish(machines.find((m) => m.id === canaryNode)!.agent, first, true);
    const done = new Set([canaryNode]);
    // The rest, at most four at a time.
    while (done.size < 10) {
      const batch = await sentTo(machines, 1);
      expect(batch.size).toBeLessThanOrEqual(4);
      for (const [node, dir] of batch) {
        finish(machines.find((m) => m.id === node)!.agent, dir, true);
        done.add(node);
      }
    }
    const end = await stateIs(site, d.id, "completed");
    expect(end.counts).toMatchObject({ total: 10, done: 10, failed: 0 });
    expect(end.targets!.every((t) => t.status === "done" && t.directiveId)).toBe(true);

    const history = DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${end.targets![0]!.directiveId}`)).json());
    expect(history).toMatchObject({ action: "roost.deploy", status: "done", data: { kind: "roost" } });
    const log = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=deployment&limit=50`)).json());
    expect(log.entries.some((e) => e.message.includes("canary passed"))).toBe(true);
    expect(log.entries.filter((e) => / on m\d\d: done/.test(e.message))).toHaveLength(10);
  });

  it("stops after a failed canary: no further machine is sent anything", async () => {
    const { site, machines } = await setUp(5);
    const d = await deploy(site, "app", { version: 1, target: { all: true }, path: "/srv/app" });
    const [node, dir] = [...(await sentTo(machines, 1))][0]!;
    finish(machines.find((m) => m.id === node)!.agent, dir, false);
    const end = await stateIs(site, d.id, "aborted");
    expect(end.reason).toMatch(/1 of 1 machine\(s\) failed/);
    expect(end.counts).toMatchObject({ failed: 1, skipped: 4, running: 0, pending: 0 });
    await new Promise((r) => setTimeout(r, 100));
    expect(sent(machines).size).toBe(0);
  });

  it("holds a canary below the promotion threshold until a person promotes it", async () => {
    const { site, machines } = await setUp(10);
    const d = await deploy(site, "app", { version: 1, target: { all: true }, path: "/srv/app", canaryPercent: 20, abortAbovePercent: 60 });
    const canary = await sentTo(machines, 2);
    expect(canary.size).toBe(2);
    const [[n1, d1], [n2, d2]] = [...canary] as [[string, DirectiveMessage], [string, DirectiveMessage]];
    // In this order: a failure first would be 1 of 1 tried (100%, over 60%) and stop everything.
    finish(machines.find((m) => m.id === n1)!.agent, d1, true);
    await until("the first canary result", async () => ((await view(site, d.id)).counts.done === 1 ? true : undefined));
    finish(machines.find((m) => m.id === n2)!.agent, d2, false);
    const held = await stateIs(site, d.id, "held");
    expect(held.reason).toMatch(/1 of 2 \(50%, below 90%\)/);
    expect(sent(machines).size).toBe(0);

    const promoted = await post(site, `/roost/deployments/${d.id}/promote`);
    expect(promoted.status).toBe(200);
    const rest = await sentTo(machines, 8);
    for (const [node, dir] of rest) finish(machines.find((m) => m.id === node)!.agent, dir, true);
    const end = await stateIs(site, d.id, "completed");
    expect(end.counts).toMatchObject({ done: 9, failed: 1 });
  });

  it("stops the rest once more than the allowed share of machines failed", async () => {
    const { site, machines } = await setUp(8);
    const d = await deploy(site, "app", { version: 1, target: { all: true }, path: "/srv/app", concurrency: 1 });
    // One at a time: 1 of 4 failed is 25%, not more, so it goes on; 2 of 5 is 40%, so it stops.
    const outcomes = [true, true, true, false, false];
    for (const [i, ok] of outcomes.entries()) {
      const next = await sentTo(machines, 1);
      expect(next.size, `machine ${i + 1} alone`).toBe(1);
      const [node, dir] = [...next][0]!;
      finish(machines.find((m) => m.id === node)!.agent, dir, ok);
    }
    const end = await stateIs(site, d.id, "aborted");
    expect(end.reason).toMatch(/2 of 5 machine\(s\) failed \(40%, more than 25%\)/);
    expect(end.counts).toMatchObject({ done: 3, failed: 2, skipped: 3 });
    await new Promise((r) => setTimeout(r, 100));
    expect(sent(machines).size).toBe(0);
  });

  it("aborts by hand: machines not started yet are skipped", async () => {
    const { site, machines } = await setUp(4);
    const d = await deploy(site, "app", { version: 1, target: { all: true }, path: "/srv/app" });
    await sentTo(machines, 1);
    const res = await post(site, `/roost/deployments/${d.id}/abort`);
    expect(res.status).toBe(200);
    const aborted = DeploymentView.parse(await res.json());
    expect(aborted).toMatchObject({ state: "aborted", reason: "aborted by admin key", counts: { running: 1, skipped: 3 } });
    expect((await post(site, `/roost/deployments/${d.id}/abort`)).status).toBe(409);
    expect((await post(site, `/roost/deployments/${d.id}/promote`)).status).toBe(409);
  });

  it("streams the deployment: a snapshot, each machine's progress as it comes and its outcome, then the end", async () => {
    const { site, machines } = await setUp(1);
    const agent = machines[0]!.agent;
    const res = await api(`/api/sites/${site}/roosts/app/deployments`, {
      method: "POST",
      body: JSON.stringify({ version: 1, target: { nodes: ["m00"] }, path: "/srv/app" }),
      headers: { Accept: "text/event-stream" },
    });
    const id = res.headers.get("X-Cortex-Deployment");
    expect(id).toMatch(/^r-/);
    const stream = eventsOf(res);
    expect(await stream.next()).toMatchObject({ event: "snapshot", deployment: { id, counts: { pending: 1 } } });
    const dir = await agent.next("directive");
    expect(await stream.next()).toMatchObject({ event: "target", target: { nodeId: "m00", status: "running", directiveId: dir.id, progress: null } });

    // The result waits until the progress has been streamed: the report is shown live, not only in the record. (Under
    // load the test pool can hand one socket's separate frames to the object out of order; 24,000 frames of real ws
    // clients through wrangler dev never were.)
    report(agent, dir);
    const progressed = await stream.until("the progress report", (e) => e.event === "target" && e.target.progress !== null);
    expect(progressed).toMatchObject({ target: { status: "running", progress: PROGRESS } });
    conclude(agent, dir, true);

    const rest = await stream.rest();
    expect(rest.find((e) => e.event === "target")).toMatchObject({ target: { status: "done", progress: PROGRESS } });
    expect(rest.at(-1)).toMatchObject({ event: "end", deployment: { state: "completed", counts: { done: 1 } } });
  });

  it("shows members and read keys the after command and the machines' errors redacted, also on the live stream", async () => {
    const site = await newSite();
    const root = await rootSession();
    const member = await join(site, "member", root);
    const readKey = await createKey((await join(site, "admin", root)).caller, "read");
    await pushVersion(site, "app", [await fileOf("index.html", bytesOf(300, 1))]);
    const { agent } = await roostNode(site, "m00");
    const after = "curl -fsS -H 'Authorization: Bearer sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789' https://hooks.example.com/deployed";
    const d = await deploy(site, "app", { version: 1, target: { nodes: ["m00"] }, path: "/srv/app", after });
    expect(d.after).toBe(after);
    const follow = async (caller: Caller) => eventsOf(await call(caller, `/api/sites/${site}/roost/deployments/${d.id}/events`));
    const streams = [await follow(member.caller), await follow(readKey.caller)];
    const dir = await agent.next("directive");
    agent.send({ type: "directive_ack", directiveId: dir.id });
    agent.send({ type: "result", directiveId: dir.id, success: false, output: "", durationMs: 5, error: "after: DB_PASSWORD=hunter2hunter2 rejected", errorCode: "exec_failed" });
    await stateIs(site, d.id, "aborted");

    for (const [i, caller] of [member.caller, readKey.caller].entries()) {
      const one = DeploymentView.parse(await (await call(caller, `/api/sites/${site}/roost/deployments/${d.id}`)).json());
      expect(one.after).toContain("[REDACTED:");
      expect(one.targets![0]!.error).toBe("after: DB_PASSWORD=[REDACTED:secret setting] rejected");
      const listed = await (await call(caller, `/api/sites/${site}/roost/deployments`)).text();
      const streamed = JSON.stringify(await streams[i]!.rest());
      for (const text of [JSON.stringify(one), listed, streamed]) {
        expect(text).not.toContain("sk-ant-api03");
        expect(text).not.toContain("hunter2");
      }
      expect(streamed).toContain("[REDACTED:");
    }
    const whole = await view(site, d.id);
    expect(whole).toMatchObject({ after, targets: [{ error: "after: DB_PASSWORD=hunter2hunter2 rejected" }] });
  });

  it("takes a progress report only from the machine running it, and only while it runs", async () => {
    const { site, machines } = await setUp(2);
    const [m0, m1] = machines as [Machine, Machine];
    const d = await deploy(site, "app", { version: 1, target: { nodes: ["m00"] }, path: "/srv/app" });
    const dir = await m0.agent.next("directive");
    const targetOf = async () => (await view(site, d.id)).targets![0]!;

    // Another machine claims progress on m00's directive: refused, and m00's record is untouched.
    m1.agent.send({ type: "directive_progress", directiveId: dir.id, progress: { ...PROGRESS, bytesDone: 19 } });
    expect(await m1.agent.next("error")).toMatchObject({ code: "not_yours", message: `directive ${dir.id} was not sent to this node` });
    // Inside a batch too, and a directive no deployment sent is refused as well.
    m1.agent.send({ type: "batch", messages: [{ type: "directive_progress", directiveId: "d-nope", progress: PROGRESS }] });
    await until("the batch's refusal", () => (m1.agent.take("error").some((e) => e.message === "directive d-nope was not sent by a deployment") ? true : undefined));
    expect(await targetOf()).toMatchObject({ status: "running", progress: null });

    report(m0.agent, dir);
    await until("m00's own progress", async () => ((await targetOf()).progress?.bytesDone === 10 ? true : undefined));
    conclude(m0.agent, dir, true);
    await stateIs(site, d.id, "completed");

    // A report that arrives after the result is late and changes nothing; the batch's error marks it as handled.
    m0.agent.send({ type: "batch", messages: [{ type: "directive_progress", directiveId: dir.id, progress: { ...PROGRESS, bytesDone: 15 } }, { type: "directive_ack", directiveId: "d-marker" }] });
    const errors: string[] = [];
    await until("the marker's refusal", () => {
      errors.push(...m0.agent.take("error").map((e) => e.message));
      return errors.some((m) => m.includes("d-marker")) ? true : undefined;
    });
    expect(errors).toEqual(["directive d-marker does not exist"]);
    expect(await targetOf()).toMatchObject({ status: "done", progress: PROGRESS });
  });

  it("gives an offline machine the version when it connects again, if asked; skips it otherwise", async () => {
    const site = freshSite();
    await pushVersion(site, "app", [await fileOf("f", bytesOf(10, 2))]);
    const [online] = await fleet(site, 1, "on");
    const late = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "late", id: "late", tier: "root" }) });
    const lateCreds = NodeCredentials.parse(await late.json());
    await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "gone", id: "gone", tier: "root" }) });

    const withCatchUp = await deploy(site, "app", { version: 1, target: { nodes: ["on00", "late"] }, path: "/srv/a", catchUp: true, canaryPercent: 0 });
    const skipping = await deploy(site, "app", { version: 1, target: { nodes: ["gone"] }, path: "/srv/b", canaryPercent: 0 });
    finish(online!.agent, await online!.agent.next("directive"), true);
    const waiting = await stateIs(site, withCatchUp.id, "completed");
    expect(waiting.targets!.find((t) => t.nodeId === "late")!.status).toBe("waiting");
    expect(waiting.reason).toMatch(/1 machine\(s\) will get it/);
    const skipped = await stateIs(site, skipping.id, "completed");
    expect(skipped.targets![0]).toMatchObject({ status: "skipped", error: "offline when its turn came" });

    const { connectNode } = await import("./support.ts");
    const { ActionName } = await import("../../protocol/directives.ts");
    const agent = await connectNode(site, lateCreds, { capabilities: [...ActionName.options] });
    const dir = await agent.next("directive");
    expect(dir.params).toMatchObject({ path: "/srv/a" });
    finish(agent, dir, true);
    await until("the late machine to be done", async () => ((await view(site, withCatchUp.id)).counts.done === 2 ? true : undefined));
  });

  it("refuses a deployment the node's tier forbids, and counts it as a failure", async () => {
    const site = freshSite();
    await pushVersion(site, "app", [await fileOf("f", bytesOf(10, 3))]);
    await roostNode(site, "low", "unprivileged");
    await roostNode(site, "mid", "sudo");
    const d1 = await deploy(site, "app", { version: 1, target: { nodes: ["low"] }, path: "/tmp/cortex-sandbox/app" });
    const refused = await stateIs(site, d1.id, "aborted");
    expect(refused.targets![0]!.error).toMatch(/not allowed at tier unprivileged/);
    const d2 = await deploy(site, "app", { version: 1, target: { nodes: ["mid"] }, path: "/etc/app" });
    expect((await stateIs(site, d2.id, "aborted")).targets![0]!.error).toMatch(/under \/etc/);
    const d3 = await deploy(site, "app", { version: 1, target: { nodes: ["mid"] }, path: "/srv/app", after: "sudo rm -rf /" });
    expect((await stateIs(site, d3.id, "aborted")).targets![0]!.error).toMatch(/sudo is allowed only/);
  });

  it("lets a node download the chunks of a version deployed to it, and nothing else", async () => {
    const { site, machines, hash } = await setUp(2);
    const other = await fileOf("secret", bytesOf(50, 99));
    await pushVersion(site, "other", [other]);
    const [m0, m1] = machines as [Machine, Machine];
    await deploy(site, "app", { version: 1, target: { nodes: ["m00"] }, path: "/srv/app" });
    await m0.agent.next("directive");

    const chunk = await nodeGet(site, `chunks/${hash}`, m0.token);
    expect(chunk.status).toBe(200);
    expect(new Uint8Array(await chunk.arrayBuffer())).toEqual(bytesOf(300, 1));
    expect((await nodeGet(site, "manifests/app/1", m0.token)).status).toBe(200);

    // The other machine, and the other roost's chunk: 403.
    expect((await nodeGet(site, `chunks/${hash}`, m1.token)).status).toBe(403);
    expect((await nodeGet(site, "manifests/app/1", m1.token)).status).toBe(403);
    const otherHash = other.entry.type === "file" ? other.entry.chunks[0]! : "";
    const refused = await nodeGet(site, `chunks/${otherHash}`, m0.token);
    expect(refused.status).toBe(403);
    expect(ApiError.parse(await refused.json()).error.code).toBe("not_deployed");
    expect((await nodeGet(site, "manifests/other/1", m0.token)).status).toBe(403);
  });

  it("refuses roost actions through the directive API, and a deployment of a version that does not exist", async () => {
    const { site, version } = await setUp(1);
    const params = { deploymentId: "x", roost: "app", version: 1, manifestSha256: version.manifestSha256, path: "/srv/app" };
    const direct = await api(`/api/sites/${site}/nodes/m00/directives`, { method: "POST", body: JSON.stringify({ action: "roost.deploy", params }) });
    expect(direct.status).toBe(400);
    expect(ApiError.parse(await direct.json()).error.code).toBe("hub_only_action");
    const fan = await api(`/api/sites/${site}/fanouts`, { method: "POST", body: JSON.stringify({ action: "roost.activate", params, target: { all: true } }) });
    expect(fan.status).toBe(400);
    const missing = await api(`/api/sites/${site}/roosts/app/deployments`, { method: "POST", body: JSON.stringify({ version: 7, target: { all: true }, path: "/srv/app" }) });
    expect(missing.status).toBe(404);
    const relative = await api(`/api/sites/${site}/roosts/app/deployments`, { method: "POST", body: JSON.stringify({ version: 1, target: { all: true }, path: "srv/app" }) });
    expect(relative.status).toBe(400);
  });

  it("rolls back with roost.activate, through the same canary", async () => {
    const { site, version, machines } = await setUp(2);
    const d = await deploy(site, "app", { version: 1, target: { all: true }, path: "/srv/app", canaryPercent: 50 }, "rollbacks");
    expect(d.kind).toBe("rollback");
    const [, dir] = [...(await sentTo(machines, 1))][0]!;
    expect(dir).toMatchObject({ action: "roost.activate", params: { version: 1, manifestSha256: version.manifestSha256 } });
  });
});
