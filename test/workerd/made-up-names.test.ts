import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../protocol/api.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { REGISTER_TIMEOUT_MS } from "../../protocol/limits.ts";
import { formatAlertToken } from "../../protocol/alert-token.ts";
import { formatNodeToken } from "../../protocol/node-token.ts";
import type { Conversation } from "../../durable-objects/conversation/conversation.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import { api, BASE, connectNode, dial, ensureSite, FakeAgent, freshSite, registerNode } from "./support.ts";

/** What an object has stored: its tables, and whether it set an alarm. */
function storedIn(stub: DurableObjectStub): Promise<{ tables: string[]; alarm: number | null }> {
  return runInDurableObject(stub, async (_object, state) => ({
    tables: state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((r) => r.name),
    alarm: await state.storage.getAlarm(),
  }));
}

function stored(site: string) {
  return storedIn(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)));
}

function storedConversation(site: string, id: string) {
  return storedIn(env.CONVERSATION.get(env.CONVERSATION.idFromName(`${site}/${id}`)));
}

async function code(res: Response, status: number): Promise<string> {
  expect(res.status).toBe(status);
  return ApiError.parse(await res.json()).error.code;
}

/** A site name nobody created, as an attacker would make them up by the thousand. */
function madeUpSite(): string {
  return `ghost-${crypto.randomUUID().slice(0, 12)}`;
}

describe("a site name nobody created", () => {
  it("an agent's socket is refused exactly as on a real site, and nothing is stored", async () => {
    const real = freshSite();
    await registerNode(real, { name: "db-1" });
    const ghost = madeUpSite();
    const forgedToken = formatNodeToken("web-1", "ab".repeat(32));
    // With the token at the upgrade: 401 from both.
    for (const site of [real, ghost]) expect(await code((await dial(site, forgedToken)) as Response, 401)).toBe("unauthorized");
    // Without it (the token comes in `register`): both accept the socket, then close it the same way, so the answer
    // never tells an anonymous caller which names are sites.
    const closes = [];
    for (const site of [real, ghost]) {
      const agent = await dial(site, null);
      expect(agent).toBeInstanceOf(FakeAgent);
      (agent as FakeAgent).register("web-1", { token: forgedToken });
      closes.push(await (agent as FakeAgent).waitClose());
    }
    expect(closes[1]).toEqual(closes[0]);
    expect(closes[0]!.code).toBe(CloseCode.UNAUTHORIZED);
    expect(await stored(ghost)).toEqual({ tables: [], alarm: null });
  });

  it("an object a made-up name left before (its tables, no site) sets no alarm for an anonymous socket", async () => {
    const ghost = madeUpSite();
    await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(ghost)), (hub: SiteHub) => hub["storage"].sql.exec("SELECT 1 FROM site_info"));
    expect((await stored(ghost)).tables).toContain("site_info");
    const agent = (await dial(ghost, null)) as FakeAgent;
    agent.register("web-1", { token: formatNodeToken("web-1", "ab".repeat(32)) });
    expect((await agent.waitClose()).code).toBe(CloseCode.UNAUTHORIZED);
    expect((await stored(ghost)).alarm).toBeNull();
  });

  // Real time: the object's own timer closes it (fake timers cannot reach into the object).
  it("a socket left unregistered on a made-up site is closed at the register timeout without an alarm", { timeout: REGISTER_TIMEOUT_MS + 10_000 }, async () => {
    const ghost = madeUpSite();
    const agent = (await dial(ghost, null)) as FakeAgent;
    const opened = Date.now();
    expect((await agent.waitClose(REGISTER_TIMEOUT_MS + 5_000)).code).toBe(CloseCode.REGISTER_TIMEOUT);
    expect(Date.now() - opened).toBeGreaterThanOrEqual(REGISTER_TIMEOUT_MS - 100);
    expect(await stored(ghost)).toEqual({ tables: [], alarm: null });
  });

  it("a roost download with a made-up node token is refused and stores nothing", async () => {
    const site = madeUpSite();
    const headers = { Authorization: `Bearer ${formatNodeToken("web-1", "cd".repeat(32))}` };
    expect(await code(await SELF.fetch(`${BASE}/api/sites/${site}/roost/node/chunks/${"0".repeat(64)}`, { headers }), 401)).toBe("unauthorized");
    expect(await code(await SELF.fetch(`${BASE}/api/sites/${site}/roost/node/manifests/app/1`, { headers }), 401)).toBe("unauthorized");
    expect(await stored(site)).toEqual({ tables: [], alarm: null });
  });

  it("an Alertmanager post with a token naming it is refused and stores nothing", async () => {
    const site = madeUpSite();
    const res = await SELF.fetch(`${BASE}/api/sites/${site}/alerts/alertmanager`, {
      method: "POST",
      headers: { Authorization: `Bearer ${formatAlertToken(site, "ef".repeat(32))}`, "Content-Type": "application/json" },
      body: JSON.stringify({ version: "4", status: "firing", alerts: [] }),
    });
    expect(res.status).toBe(401);
    expect(await stored(site)).toEqual({ tables: [], alarm: null });
  });

  it("a signed-in caller naming it gets site_not_found, and nothing is stored", async () => {
    const site = madeUpSite();
    expect(await code(await api(`/api/sites/${site}/nodes`), 404)).toBe("site_not_found");
    expect(await code(await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "x" }) }), 404)).toBe("site_not_found");
    expect(await stored(site)).toEqual({ tables: [], alarm: null });
  });

  it("once created, the same object stores its site and takes agents", async () => {
    const site = freshSite();
    expect(await code((await dial(site, formatNodeToken("web-1", "ab".repeat(32)))) as Response, 401)).toBe("unauthorized");
    expect((await stored(site)).tables).toEqual([]);
    await ensureSite(site);
    expect((await stored(site)).tables).toContain("site_info");
    const agent = await connectNode(site, await registerNode(site, { name: "web-1" }));
    agent.ws.close();
  });
});

describe("a conversation id nobody created", () => {
  it("every route on it answers conversation_not_found, and its object stores nothing", async () => {
    const site = freshSite();
    await ensureSite(site);
    const id = `c-${crypto.randomUUID()}`;
    const base = `/api/sites/${site}/conversations/${id}`;
    const calls: [string, RequestInit][] = [
      [base, {}],
      [base, { method: "PATCH", body: JSON.stringify({ title: "mine now" }) }],
      [base, { method: "DELETE" }],
      [`${base}/messages`, { method: "POST", body: JSON.stringify({ text: "hello" }) }],
      [`${base}/stop`, { method: "POST" }],
      [`${base}/continue`, { method: "POST" }],
      [`${base}/confirmations/t-${crypto.randomUUID()}`, { method: "POST", body: JSON.stringify({ approve: true }) }],
      [`${base}/events`, {}],
    ];
    for (const [path, init] of calls) expect(await code(await api(path, init), 404)).toBe("conversation_not_found");
    expect(await storedConversation(site, id)).toEqual({ tables: [], alarm: null });
  });

  it("an investigation refused for want of a site key leaves its conversation's object empty", async () => {
    const site = freshSite();
    await ensureSite(site);
    const id = `c-${crypto.randomUUID()}`;
    const stub = env.CONVERSATION.get(env.CONVERSATION.idFromName(`${site}/${id}`));
    const start = { id, site, eventId: `e-${crypto.randomUUID()}`, nodeId: "web-1", title: "api crashed", briefing: "look", directive: "", toolTier: 1 as const, stepLimit: 5, model: null };
    expect(await stub.startInvestigation(start)).toMatchObject({ ok: false, error: { code: "no_llm_key" } });
    expect(await storedConversation(site, id)).toEqual({ tables: [], alarm: null });
  });

  it("a transaction rolled back around an object's first write leaves its tables, so it goes on working", async () => {
    const site = freshSite();
    const stub = env.CONVERSATION.get(env.CONVERSATION.idFromName(`${site}/c-${crypto.randomUUID()}`));
    const after = await runInDurableObject(stub, (conversation: Conversation) => {
      const tables = conversation["tables"];
      expect(tables.blank).toBe(true);
      expect(() =>
        tables.transaction(() => {
          conversation.transcript.meta();
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      return conversation.transcript.meta();
    });
    expect(after).toBeNull();
  });

  it("a deleted conversation's object keeps nothing, and its id stays unknown", async () => {
    const site = freshSite();
    await registerNode(site, { name: "web-1", id: "web-1" });
    const created = await api(`/api/sites/${site}/conversations`, { method: "POST", body: JSON.stringify({ target: { node: "web-1" } }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await storedConversation(site, id)).tables).toContain("schema_migrations");
    expect((await api(`/api/sites/${site}/conversations/${id}`, { method: "DELETE" })).status).toBe(200);
    expect(await storedConversation(site, id)).toEqual({ tables: [], alarm: null });
    expect(await code(await api(`/api/sites/${site}/conversations/${id}`), 404)).toBe("conversation_not_found");
    expect(await storedConversation(site, id)).toEqual({ tables: [], alarm: null });
  });
});
