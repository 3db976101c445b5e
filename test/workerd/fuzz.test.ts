import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { call, rootSession, type Caller } from "./accounts-support.ts";
import { directoryState, FUZZ_SEED, Mutator, rng, siteState } from "./fuzz-support.ts";
import { ADMIN_KEY, api, BASE, connectNode, FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * Mutated node frames and API bodies, seeded and bounded so a run is repeatable and quick. The invariants: the
 * hub never answers 5xx and never crashes, and whatever it refuses changes nothing in its storage.
 */

const FRAMES = 250;
const BODIES = 300;

describe("fuzzing node frames", () => {
  let site: string;
  let creds: Awaited<ReturnType<typeof registerNode>>;
  let agent: FakeAgent;
  let other: FakeAgent;
  let mine: DirectiveMessage;
  let theirs: DirectiveMessage;
  let theirsDone: Promise<Response>;

  beforeAll(async () => {
    site = freshSite();
    creds = await registerNode(site, { name: "fz", tier: "root" });
    agent = await connectNode(site, creds, { heartbeatMs: 60_000 });
    other = await connectNode(site, await registerNode(site, { name: "other", tier: "root" }), { heartbeatMs: 60_000 });
    void api(`/api/sites/${site}/nodes/fz/directives`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command: "sleep 1" }, timeoutMs: 600_000 }) });
    mine = await agent.next("directive");
    theirsDone = api(`/api/sites/${site}/nodes/other/directives`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command: "echo ok" }, timeoutMs: 600_000 }) });
    theirs = await other.next("directive");
  });

  function templates(): Record<string, unknown>[] {
    const metrics = { cpuPercent: 1, memoryMb: 1, memoryTotalMb: 2, diskFreeMb: 1, diskTotalMb: 2, activeDirectives: 0, uptimeSeconds: 1, gpus: [] };
    return [
      { type: "heartbeat", agentId: "fz", metrics },
      { type: "directive_ack", directiveId: mine.id },
      { type: "directive_ack", directiveId: theirs.id },
      { type: "stream_chunk", directiveId: mine.id, seq: 0, chunk: "out\n", stream: "stdout" },
      { type: "stream_chunk", directiveId: theirs.id, seq: 0, chunk: "forged\n" },
      { type: "result", directiveId: theirs.id, success: true, output: "forged", durationMs: 1, exitCode: 0, chunks: 0 },
      { type: "run_complete", runId: "run-x", directiveId: theirs.id, state: "done", exitCode: 0, outputTail: "t", startedAt: 1, endedAt: 2 },
      { type: "run_complete", runId: "run-y", directiveId: mine.id, state: "failed", exitCode: 1, outputTail: "t", startedAt: 1, endedAt: 2 },
      { type: "error", message: "agent trouble", code: "x" },
    ];
  }

  it(`answers ${FRAMES} mutated frames without crashing, and a refused frame changes nothing`, { timeout: 90_000 }, async () => {
    const m = new Mutator(rng(FUZZ_SEED));
    const sync = { type: "register", agentId: "fz", name: "fz", capabilities: [], version: "fuzz" };
    const problems: string[] = [];
    let refusedFrames = 0;
    let refusedHere = 0;
    for (let i = 0; i < FRAMES; i++) {
      // A connection is closed after 20 refusals (tested in node-ownership); start a fresh one well before that,
      // so that a frame's own effect is all that can change the site between the two snapshots.
      if (refusedHere >= 15) {
        agent.ws.close(1000, "fuzz");
        await agent.waitClose();
        refusedHere = 0;
      }
      if (agent.closed) agent = await connectNode(site, creds, { heartbeatMs: 60_000 });
      const frame = m.random() < 0.05 ? new Uint8Array([0xff, 0x00, m.int(256)]).buffer : m.mutate(m.pick(templates()));
      const before = await siteState(site);
      agent.received.length = 0;
      agent.ws.send(frame);
      agent.send(sync);
      // The sync frame's own refusal arrives after whatever the fuzzed frame caused.
      const errors = await waitForSync(agent);
      if (errors === null) throw new Error(`the connection closed at frame ${i}, before any limit`);
      const refused = errors.some((e) => e.code === "invalid_message" || e.code === "not_yours");
      if (refused) (refusedFrames += 1), (refusedHere += 1);
      const after = refused ? await siteState(site) : before;
      if (after !== before) {
        let at = 0;
        while (at < before.length && before[at] === after[at]) at++;
        problems.push(`frame ${i} was refused but changed the site: ${String(frame).slice(0, 200)}; first difference: ${after.slice(at, at + 300)}`);
      }
    }
    expect(problems).toEqual([]);
    // The fuzzer really exercised the refusals (a check that never fires proves nothing).
    expect(refusedFrames).toBeGreaterThan(FRAMES / 3);

    expect((await SELF.fetch(`${BASE}/healthz`)).status).toBe(200);
    if (agent.closed) agent = await connectNode(site, creds, { heartbeatMs: 60_000 });
    agent.send({ type: "heartbeat", agentId: "fz" });
    await agent.next("heartbeat_ack");
    // The other node's directive was never touched by any of it.
    other.send({ type: "result", directiveId: theirs.id, success: true, output: "ok\n", durationMs: 1, exitCode: 0 });
    expect(await (await theirsDone).json()).toMatchObject({ status: "done", output: "ok\n" });
  });
});

/** The error replies received up to the sync frame's, or null when the socket closed first (too many refusals). */
async function waitForSync(agent: FakeAgent): Promise<{ code?: unknown }[] | null> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const errors = agent.received.flatMap((m) => (typeof m !== "string" && m.type === "error" ? [m] : []));
    if (errors.some((e) => e.code === "already_registered")) return errors;
    if (agent.closed) return null;
    if (Date.now() > deadline) throw new Error(`no answer to the sync frame; got ${JSON.stringify(agent.received).slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("fuzzing API bodies", () => {
  let site: string;
  let session: Caller;

  beforeAll(async () => {
    session = await rootSession();
    site = freshSite();
    await registerNode(site, { name: "offline" });
  });

  type Route = { method: string; path: string; body: Record<string, unknown>; caller?: Caller; recordsFailures?: boolean };

  /** Routes with a valid body each; the caller is the admin key unless a session is needed. */
  function routes(): Route[] {
    return [...fuzzedRoutes(), { method: "POST", path: "/api/auth/logout-all", body: { revokeApiKeys: false }, caller: session }];
  }

  /** The routes fuzzed at random: all but "sign out everywhere", which would end the session the others use. */
  function fuzzedRoutes(): Route[] {
    return [
      { method: "POST", path: `/api/sites/${site}/nodes`, body: { name: "new node", group: "g", tier: "sudo" } },
      { method: "POST", path: `/api/sites/${site}/nodes/offline/directives`, body: { action: "read", params: { path: "/var/log/x", limit: 10 }, timeoutMs: 5000 } },
      { method: "POST", path: `/api/sites/${site}/nodes/offline/directives`, body: { action: "bash", params: { command: "echo", timeoutMs: 1000 } } },
      { method: "POST", path: `/api/sites/${site}/fanouts`, body: { action: "grep", params: { path: "/var/log", pattern: "x" }, target: { nodes: ["offline"] }, concurrency: 2 } },
      { method: "PATCH", path: `/api/sites/${site}/settings`, body: { readablePaths: ["sandbox", "/var/log"] } },
      { method: "PATCH", path: `/api/sites/${site}`, body: { name: "Fuzzed" } },
      { method: "POST", path: `/api/sites/${site}/invites`, body: { role: "member", email: "fz@example.com", expiresInHours: 2 } },
      { method: "PATCH", path: `/api/sites/${site}/members/u-00000000-0000-0000-0000-000000000000`, body: { role: "admin" } },
      { method: "POST", path: "/api/sites", body: { id: "fz-site", name: "Fuzz" } },
      { method: "POST", path: "/api/invites/accept", body: { token: "cxi_0000", name: "X", password: "a long password 123" } },
      { method: "POST", path: "/api/setup", body: { setupCode: "nope", email: "a@example.com", name: "A", password: "a long password 123" } },
      { method: "POST", path: "/api/auth/api-keys", body: { name: "k", scope: "read" }, caller: session },
      // A wrong password is refused and counted on purpose (throttling), so only "no 5xx" holds for these two.
      { method: "POST", path: "/api/auth/login", body: { email: "root@example.com", password: "wrong" }, recordsFailures: true },
      { method: "POST", path: "/api/auth/password", body: { currentPassword: "wrong", newPassword: "a long password 123" }, caller: session, recordsFailures: true },
    ];
  }

  it(`answers ${BODIES} mutated bodies with no 5xx, and a refused one changes nothing`, { timeout: 90_000 }, async () => {
    const m = new Mutator(rng(FUZZ_SEED + 1));
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    for (let i = 0; i < BODIES; i++) {
      const route = m.pick(fuzzedRoutes());
      const body = m.mutate(route.body);
      const before = route.recordsFailures ? null : [await siteState(site), await directoryState()].join("\n");
      const res = await call(route.caller ?? { kind: "bearer", key: ADMIN_KEY }, route.path, {
        method: route.method,
        body,
        headers: { "Content-Type": "application/json", "CF-Connecting-IP": `198.18.${i % 250}.1` },
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) problems.push(`${route.method} ${route.path} answered ${res.status} to ${body.slice(0, 200)}: ${text.slice(0, 200)}`);
      if (before !== null && res.status >= 400 && res.status < 500) {
        const after = [await siteState(site), await directoryState()].join("\n");
        if (after !== before) problems.push(`${route.method} ${route.path} refused with ${res.status} but changed state: ${body.slice(0, 200)}`);
      }
    }
    expect(problems).toEqual([]);
    // Both refusals and accepted changes happened, so both invariants were exercised.
    const count = (pred: (s: number) => boolean) => [...statuses].filter(([s]) => pred(s)).reduce((n, [, c]) => n + c, 0);
    expect(count((s) => s === 400)).toBeGreaterThan(BODIES / 4);
    expect(count((s) => s < 300)).toBeGreaterThan(5);
  });

  it("answers a body nested thousands of levels deep with 400 on every route that takes one, not 500", async () => {
    const deep = ["[".repeat(10_000) + "]".repeat(10_000), `{"action":"read","params":{"path":"/var/log/x","x":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}}`];
    for (const route of routes()) {
      for (const body of deep) {
        const res = await call(route.caller ?? { kind: "bearer", key: ADMIN_KEY }, route.path, { method: route.method, body, headers: { "Content-Type": "application/json" } });
        expect(res.status, `${route.method} ${route.path}`).toBe(400);
      }
    }
  });
});
