import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DirectiveEvent, DirectiveListResponse, FanOutResponse, type DirectiveView } from "../../protocol/api.ts";
import { FAN_OUT_ANSWER_MEMBER_CHARS, MAX_FAN_OUT_ANSWER_CHARS } from "../../protocol/limits.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import { paramsForView } from "../../durable-objects/site-hub/directive-store.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { call, expectJson, join, newSite, rootSession, type Caller } from "./accounts-support.ts";
import { api, connectNode, FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * A fan-out's JSON answer, which the site object returns whole over RPC when the fan-out ends (no event stream for
 * that caller): it says what the event stream says, shows each member as that caller may see it, and keeps nothing
 * once the fan-out is over, even for a caller who went away.
 */

const AWS_KEY = "AKIAIOSFODNN7EXAMPLE";

function post(site: string, body: unknown, accept?: string, signal?: AbortSignal): Promise<Response> {
  return api(`/api/sites/${site}/fanouts`, { method: "POST", body: JSON.stringify(body), headers: accept ? { Accept: accept } : {}, signal });
}

function answer(agent: FakeAgent, d: DirectiveMessage, output: string, success = true): void {
  agent.send({ type: "directive_ack", directiveId: d.id });
  agent.send({ type: "result", directiveId: d.id, success, output, durationMs: 1, exitCode: success ? 0 : 3, chunks: 0 });
}

/** The next directive the agent received, taken off its queue so the next call waits for a new one. */
async function directiveTo(agent: FakeAgent): Promise<DirectiveMessage> {
  const d = await agent.next("directive");
  agent.take("directive");
  return d;
}

async function online(site: string, name: string, tier: "root" | "unprivileged" = "root"): Promise<FakeAgent> {
  return connectNode(site, await registerNode(site, { name, tier }), tier === "root" ? {} : { tier });
}

async function streamed(res: Response): Promise<{ aggregate: unknown; directives: DirectiveView[] }> {
  const events = (await res.text())
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => DirectiveEvent.parse(JSON.parse(f.slice(6))));
  const last = events.at(-1);
  return {
    aggregate: last?.event === "aggregate" ? last.aggregate : null,
    directives: events.flatMap((e) => (e.event === "result" ? [e.directive] : [])),
  };
}

/** What two runs of the same fan-out share: everything but ids and times. */
function comparable(outcome: { aggregate: unknown; directives: DirectiveView[] }): unknown {
  const { fanoutId: _f, ...aggregate } = outcome.aggregate as Record<string, unknown>;
  return {
    aggregate,
    directives: outcome.directives
      .map(({ id: _i, fanoutId: _fo, createdAt: _c, sentAt, startedAt, endedAt, ...rest }) => ({ ...rest, sent: sentAt !== null, started: startedAt !== null, ended: endedAt !== null }))
      .sort((x, y) => x.nodeId.localeCompare(y.nodeId)),
  };
}

/** The ids of a site's fan-out members, to find the fan-out a JSON caller is still waiting for. */
async function members(site: string): Promise<DirectiveView[]> {
  return DirectiveListResponse.parse(await (await api(`/api/sites/${site}/directives`)).json()).directives;
}

function answerAwaited(site: string, fanoutId: string): Promise<boolean> {
  // The dispatcher is private to the object; the test looks at its waiters directly, as nothing else can show them.
  return runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), (hub: SiteHub) => hub["directives"].answerAwaited(fanoutId));
}

describe("a fan-out answered as JSON", () => {
  it("gives the members and the aggregate the event stream gives, for done, failed, offline and refused members", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    await online(site, "jail", "unprivileged");
    await registerNode(site, { name: "down", tier: "root" });
    const body = { target: { nodes: ["a", "b", "jail", "down"] }, action: "bash", params: { command: "hostname" } };
    const play = async () => {
      answer(a, await directiveTo(a), "a\n");
      answer(b, await directiveTo(b), "no\n", false);
    };

    const viaStream = post(site, body, "text/event-stream");
    await play();
    const fromStream = await streamed(await viaStream);

    const viaJson = post(site, body);
    await play();
    const fromJson = await expectJson(await viaJson, 200, FanOutResponse);

    expect(fromJson.aggregate).toMatchObject({ total: 4, succeeded: 1, failed: 1, offline: 1, refused: 1 });
    expect(fromJson.directives.every((d) => d.fanoutId === fromJson.fanoutId)).toBe(true);
    expect(fromJson.aggregate!.fanoutId).toBe(fromJson.fanoutId);
    expect(fromJson.directives.find((d) => d.nodeId === "a")!.output).toBe("a\n");
    expect(comparable(fromJson)).toEqual(comparable(fromStream));
  });

  it("shows a member's output to a member the way their stream shows it: redacted, never raw", async () => {
    const root: Caller = await rootSession();
    const site = await newSite();
    const member = await join(site, "member", root);
    const box = await connectNode(site, await registerNode(site, { name: "box", tier: "root" }));
    const body = { action: "read", params: { path: "/var/log/app.log" }, target: { all: true } };
    const secret = `key ${AWS_KEY} in the log\n`;

    const viaStream = call(member.caller, `/api/sites/${site}/fanouts`, { body, headers: { Accept: "text/event-stream" } });
    answer(box, await directiveTo(box), secret);
    const fromStream = await streamed(await viaStream);

    const viaJson = call(member.caller, `/api/sites/${site}/fanouts`, { body });
    answer(box, await directiveTo(box), secret);
    const fromJson = await expectJson(await viaJson, 200, FanOutResponse);

    const shown = fromJson.directives[0]!;
    expect(shown.output).not.toContain(AWS_KEY);
    expect(shown.output).toContain("in the log");
    expect(comparable(fromJson)).toEqual(comparable(fromStream));
    // The record itself keeps what the node sent: only this caller's view is redacted.
    const whole = (await (await api(`/api/sites/${site}/directives/${shown.id}`)).json()) as DirectiveView;
    expect(whole.output).toBe(secret);
  });

  it("answers with the outcome of a member whose node dropped mid-way", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    const pending = post(site, { target: { nodes: ["a", "b"] }, action: "bash", params: { command: "sleep 1" } });
    await directiveTo(b);
    b.ws.close(1001, "gone");
    answer(a, await directiveTo(a), "a\n");
    const outcome = await expectJson(await pending, 200, FanOutResponse);
    expect(outcome.aggregate).toMatchObject({ total: 2, succeeded: 1, lost: 1 });
    expect(outcome.directives.find((d) => d.nodeId === "b")).toMatchObject({ status: "lost", errorCode: "lost" });
  });

  it("answers when cancelled mid-way: the member done, the one running and the one queued cancelled", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    const c = await online(site, "c");
    const pending = post(site, { target: { nodes: ["a", "b", "c"] }, action: "bash", params: { command: "sleep 9" }, concurrency: 1 });
    answer(a, await directiveTo(a), "done");
    const running = await directiveTo(b);
    const fanoutId = (await members(site))[0]!.fanoutId!;
    expect((await api(`/api/sites/${site}/fanouts/${fanoutId}/cancel`, { method: "POST", body: "{}" })).status).toBe(200);
    expect((await b.next("cancel")).directiveId).toBe(running.id);
    const outcome = await expectJson(await pending, 200, FanOutResponse);
    expect(outcome.fanoutId).toBe(fanoutId);
    expect(outcome.aggregate).toMatchObject({ total: 3, succeeded: 1, cancelled: 2 });
    expect(outcome.directives.map((d) => [d.nodeId, d.status]).sort()).toEqual([
      ["a", "done"],
      ["b", "cancelled"],
      ["c", "cancelled"],
    ]);
    expect(c.take("directive")).toHaveLength(0);
    expect(await answerAwaited(site, fanoutId)).toBe(false);
  });

  it("keeps nothing for a caller who went away once the fan-out has ended", async () => {
    const site = freshSite();
    const a = await online(site, "a");
    const b = await online(site, "b");
    const gone = new AbortController();
    const pending = post(site, { target: { nodes: ["a", "b"] }, action: "bash", params: { command: "true" } }, undefined, gone.signal).catch((e: unknown) => e);
    const first = await directiveTo(a);
    const fanoutId = first.sessionId;
    gone.abort();
    await pending;
    answer(a, first, "");
    // Until its end the object cannot tell the caller left; the waiter is bounded by the fan-out's own end.
    answer(b, await directiveTo(b), "");
    await expect.poll(() => answerAwaited(site, fanoutId)).toBe(false);
    const ended = (await members(site)).filter((d) => d.fanoutId === fanoutId);
    expect(ended.map((d) => d.status)).toEqual(["done", "done"]);
  });

  it("keeps the answer within its size: outputs go in while they fit, exactly to the limit; the rest are named and readable", async () => {
    const site = freshSite();
    const agents: FakeAgent[] = [];
    for (let i = 0; i < 26; i++) agents.push(await online(site, `n${String(i).padStart(2, "0")}`));
    const params = { path: "/var/log/big.log" };
    const pending = post(site, { target: { all: true }, action: "read", params, concurrency: 26 });
    const sent: DirectiveMessage[] = [];
    for (const agent of agents) sent.push(await directiveTo(agent));
    // 24 such members fill the answer to the character (their params as the hub keeps them, defaults filled in); the
    // 25th and 26th outputs cannot go in.
    const length = MAX_FAN_OUT_ANSWER_CHARS / 24 - FAN_OUT_ANSWER_MEMBER_CHARS - JSON.stringify(sent[0]!.params).length;
    const letterOf = new Map<string, string>();
    for (const [i, d] of sent.entries()) {
      letterOf.set(d.id, String.fromCharCode(97 + i));
      answer(agents[i]!, d, letterOf.get(d.id)!.repeat(length));
    }
    const outcome = await expectJson(await pending, 200, FanOutResponse);
    expect(outcome.aggregate).toMatchObject({ total: 26, succeeded: 26 });
    expect(new Set(outcome.directives.map((d) => d.id))).toEqual(new Set(letterOf.keys()));
    // In the order the members ended, as the answer lists them.
    const [kept, left] = [outcome.directives.slice(0, 24), outcome.directives.slice(24)];
    expect(kept.map((d) => d.output)).toEqual(kept.map((d) => letterOf.get(d.id)!.repeat(length)));
    expect(outcome.outputOmitted).toEqual(left.map((d) => d.id));
    for (const d of left) expect(d).toMatchObject({ output: null, outputBytes: length, status: "done" });
    const whole = (await (await api(`/api/sites/${site}/directives/${left[1]!.id}`)).json()) as DirectiveView;
    expect(whole.output).toBe(letterOf.get(left[1]!.id)!.repeat(length));
  });

  it("refuses, before anything runs, a fan-out whose members' records alone cannot fit in one answer", async () => {
    const site = freshSite();
    const first = await registerNode(site, { name: "first", tier: "root" });
    const command = `echo ${"x".repeat(64 * 1024 - 5)}`;
    // Records show the params as the hub keeps them (defaults filled in), a long one cut short: that is what each
    // member's record costs.
    const one = await expectJson(await post(site, { target: { nodes: [first.id] }, action: "bash", params: { command } }), 200, FanOutResponse);
    const perMember = FAN_OUT_ANSWER_MEMBER_CHARS + JSON.stringify(one.directives[0]!.params).length;
    const fits = Math.floor(MAX_FAN_OUT_ANSWER_CHARS / perMember);
    const hub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
    await runInDurableObject(hub, (instance: SiteHub) => {
      // Registered in the object directly: thousands of nodes through the API would take most of a minute.
      for (let i = 0; i <= fits; i++) {
        instance["registry"].upsert({ id: `m${i}`, name: `m${i}`, group: i === 0 ? "spare" : "many", tier: "root", tokenHash: `h${i}`, tokenPrefix: "p" }, Date.now());
      }
    });
    const many = { group: "many" };
    const all = { nodes: Array.from({ length: fits + 1 }, (_, i) => `m${i}`) };
    const refused = await post(site, { target: all, action: "bash", params: { command } });
    expect(refused.status).toBe(413);
    expect(await refused.json()).toMatchObject({ error: { code: "answer_too_large", message: expect.stringContaining("text/event-stream") } });
    expect(await members(site)).toHaveLength(1);
    // One node fewer fits: it is admitted (its members are offline, so it ends at once).
    const admitted = await expectJson(await post(site, { target: many, action: "bash", params: { command } }), 200, FanOutResponse);
    expect(admitted.aggregate).toMatchObject({ total: fits, offline: fits });
    expect(admitted.directives).toHaveLength(fits);
    expect(admitted.outputOmitted).toEqual([]);
  });

  it("records a fan-out whose rows together pass SQLite's 2 MB string limit: a long command in three-byte characters", async () => {
    const site = freshSite();
    const nodes: string[] = [];
    for (let i = 0; i < 40; i++) nodes.push((await registerNode(site, { name: `u${i}`, tier: "root" })).id);
    // 40 rows of 180 KB each in UTF-8: 7 MB of rows, more than SQLite takes in one bound string.
    const command = `echo ${"中".repeat(60_000)}`;
    const outcome = await expectJson(await post(site, { target: { nodes }, action: "bash", params: { command } }), 200, FanOutResponse);
    expect(outcome.aggregate).toMatchObject({ total: 40, offline: 40 });
    expect(await members(site)).toHaveLength(40);
    const one = (await (await api(`/api/sites/${site}/directives/${outcome.directives[0]!.id}`)).json()) as DirectiveView;
    expect(one.params.command).toEqual(paramsForView({ command }).command);
  });
});
