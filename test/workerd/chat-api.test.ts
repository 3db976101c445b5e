import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { LlmKeyRows } from "../../durable-objects/shared/llm-key-rows.ts";
import { ActivityPage, DirectiveListResponse, NodeView } from "../../protocol/api.ts";
import { ChatEvent, ChatSetupResponse, ConversationListResponse, ConversationSummary } from "../../protocol/chat.ts";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import { LlmKeyResponse } from "../../protocol/llm.ts";
import { BOOTSTRAP, call, createKey, directorySql, expectJson, join, newSite, PASSWORD, personalKeySql, refusal, rootSession, signIn, type Caller, type Person } from "./accounts-support.ts";
import { ask, mockKey, mockKeyBody, newConversation, openChatStream, recorded, script, setSiteKey, view } from "./chat-support.ts";
import { BASE, connectNode, registerNode, type FakeAgent } from "./support.ts";

let root: Caller;
let site: string;
let admin: Person;
let member: Person;
let agent: FakeAgent;

beforeAll(async () => {
  root = await rootSession();
  site = await newSite();
  admin = await join(site, "admin", root);
  member = await join(site, "member", root);
  agent = await connectNode(site, await registerNode(site, { name: "web-1", id: "web-1", tier: "root" }));
});

function toolNames(body: Record<string, unknown>): string[] {
  return ((body.tools as { name: string }[]) ?? []).map((t) => t.name).sort();
}

describe("AI keys", () => {
  it("are sealed, never shown again, and bound to their owner", async () => {
    const secret = `sk-ant-api03-${crypto.randomUUID()}`;
    const saved = await expectJson(await call(member.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody(secret) }), 200, LlmKeyResponse);
    expect(saved.key).toMatchObject({ scope: "personal", provider: "anthropic", model: "claude-sonnet-5-5", last4: secret.slice(-4) });
    const shown = await call(member.caller, "/api/account/llm-key");
    expect(await shown.text()).not.toContain(secret.slice(0, -4));
    const sealed = await personalKeySql(member.userId, (sql) => new LlmKeyRows(sql, "personal_llm_keys").get(member.userId)!);
    expect(sealed.sealed.ciphertext).not.toContain(secret);
    expect(atob(sealed.sealed.ciphertext)).not.toContain(secret);
    expect(await directorySql((sql) => sql.exec("SELECT 1 FROM llm_keys WHERE owner = ?", member.userId).toArray())).toEqual([]);
    // The same sealed key copied to another user does not open for them.
    await personalKeySql(admin.userId, (sql) => {
      sql.exec("INSERT OR IGNORE INTO llm_keys_settled (owner) VALUES (?)", admin.userId);
      new LlmKeyRows(sql, "personal_llm_keys").put(admin.userId, sealed);
    });
    const conv = await newConversation(admin.caller, site, { node: "web-1" });
    const res = await call(admin.caller, `/api/sites/${site}/conversations/${conv.id}/messages`, { body: { text: "hi" } });
    expect((await refusal(res, 409)).message).toContain("can no longer be read");
    expect((await call(admin.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(200);
    expect((await call(member.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(200);
    expect((await call(member.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(404);
  });

  it("refuses bad bodies, and read or chat keys and the bootstrap key for personal keys", async () => {
    const bad = [
      { provider: "anthropic", model: "m" },
      { provider: "cohere", model: "m", key: "k" },
      { provider: "openai-compatible", model: "llama3", key: "none" },
      { provider: "openai", model: "gpt-4o", key: "k", baseUrl: "ftp://example.com" },
      { provider: "openai", model: "gpt-4o", key: "k", baseUrl: "https://user:pass@example.com/v1" },
      { provider: "openai", model: "gpt 4o; drop", key: "k" },
      { provider: "openai", model: "gpt-4o", key: "has space" },
    ];
    for (const body of bad) expect((await call(admin.caller, "/api/account/llm-key", { method: "PUT", body })).status, JSON.stringify(body)).toBe(400);
    const chatKey = await createKey(admin.caller, "chat");
    expect((await refusal(await call(chatKey.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody("k") }), 403)).message).toContain("a chat API key may not");
    expect((await refusal(await call(BOOTSTRAP, "/api/account/llm-key"), 403)).code).toBe("account_required");
    const adminKey = await createKey(admin.caller, "admin");
    expect((await call(adminKey.caller, "/api/account/llm-key")).status).toBe(200);
    expect((await call(member.caller, `/api/sites/${site}/llm-key`, { method: "PUT", body: mockKeyBody("k") })).status).toBe(403);
  });

  it("a personal key wins over the site key; without either the chat says where to add one", async () => {
    const lonely = await newSite();
    const person = await join(lonely, "admin", root);
    await registerNode(lonely, { name: "db-1", id: "db-1", tier: "root" });
    const conv = await newConversation(person.caller, lonely, { node: "db-1" });
    const missing = await refusal(await call(person.caller, `/api/sites/${lonely}/conversations/${conv.id}/messages`, { body: { text: "hi" } }), 409);
    expect(missing.code).toBe("no_llm_key");
    expect(missing.message).toContain("Account settings → AI key");
    const setup = await expectJson(await call(person.caller, `/api/sites/${lonely}/chat`), 200, ChatSetupResponse);
    expect(setup).toMatchObject({ key: null, stepLimit: 15, toolTier: 3 });
    expect(setup.missingKeyHelp).toContain("cortex llm set");

    const siteKey = mockKey("site");
    const personalKey = mockKey("personal");
    await setSiteKey(person.caller, lonely, siteKey);
    expect((await call(person.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody(personalKey, "openai") })).status).toBe(200);
    await script(personalKey, { text: "from the personal key" });
    const stream = await openChatStream(person.caller, lonely, conv.id);
    await ask(person.caller, lonely, conv.id, "hi");
    expect((await stream.done()).status).toBe("done");
    expect(await recorded(siteKey)).toEqual([]);
    expect((await recorded(personalKey))[0]!.body.model).toBe("gpt-4o");
    expect((await view(person.caller, lonely, conv.id)).turn?.keySource).toBe("personal");
    expect((await expectJson(await call(person.caller, `/api/sites/${lonely}/chat`), 200, ChatSetupResponse)).key).toMatchObject({ scope: "personal", provider: "openai" });
    await stream.close();
    await call(person.caller, "/api/account/llm-key", { method: "DELETE" });
  });
});

describe("who may do what", () => {
  it("a member's model is offered only tier-1 tools, and a tier-3 call it names anyway is refused", async () => {
    const key = mockKey();
    await setSiteKey(admin.caller, site, key);
    await script(key, { toolCalls: [{ name: "run_command", input: { command: "id" } }, { name: "restart_service", input: {} }] }, { text: "I cannot." });
    const conv = await newConversation(member.caller, site, { node: "web-1" });
    const stream = await openChatStream(member.caller, site, conv.id);
    await ask(member.caller, site, conv.id, "run id");
    expect((await stream.done()).status).toBe("done");
    const offered = toolNames((await recorded(key))[0]!.body);
    expect(offered).toEqual(["get_agent_health", "get_disk_usage", "get_logs", "get_network_info", "get_process_list", "get_process_logs", "get_running_processes", "get_service_status", "get_site_logs", "get_system_info", "list_machines"]);
    const calls = (await view(member.caller, site, conv.id)).messages[1]!.toolCalls;
    expect(calls.map((c) => c.status)).toEqual(["refused", "refused"]);
    expect(calls[0]!.error).toContain("not available in this conversation");
    expect(agent.take("directive")).toEqual([]);
    expect((await view(member.caller, site, conv.id)).turn?.toolTier).toBe(1);
    await stream.close();
  });

  it("a chat API key of an admin is capped at tier 1 too", async () => {
    const chatKey = await createKey(admin.caller, "chat");
    expect((await expectJson(await call(chatKey.caller, `/api/sites/${site}/chat`), 200, ChatSetupResponse)).toolTier).toBe(1);
    expect((await expectJson(await call(admin.caller, `/api/sites/${site}/chat`), 200, ChatSetupResponse)).toolTier).toBe(3);
  });

  it("members see only their own conversations; admins see everyone's, may stop and delete them, but not write in them", async () => {
    const mine = await newConversation(member.caller, site, { node: "web-1" });
    const theirs = await newConversation(admin.caller, site, { all: true });
    expect((await refusal(await call(member.caller, `/api/sites/${site}/conversations/${theirs.id}`), 404)).code).toBe("conversation_not_found");
    expect((await call(member.caller, `/api/sites/${site}/conversations/${theirs.id}/events`)).status).toBe(404);
    expect((await call(member.caller, `/api/sites/${site}/conversations/${theirs.id}`, { method: "DELETE" })).status).toBe(404);

    const memberList = await expectJson(await call(member.caller, `/api/sites/${site}/conversations`), 200, ConversationListResponse);
    expect(memberList.conversations.every((c) => c.ownerId === member.userId)).toBe(true);
    const adminList = await expectJson(await call(admin.caller, `/api/sites/${site}/conversations`), 200, ConversationListResponse);
    expect(adminList.conversations.map((c) => c.id)).toEqual(expect.arrayContaining([mine.id, theirs.id]));
    const adminOwn = await expectJson(await call(admin.caller, `/api/sites/${site}/conversations?mine=1`), 200, ConversationListResponse);
    expect(adminOwn.conversations.every((c) => c.ownerId === admin.userId)).toBe(true);

    expect((await call(admin.caller, `/api/sites/${site}/conversations/${mine.id}`)).status).toBe(200);
    expect((await refusal(await call(admin.caller, `/api/sites/${site}/conversations/${mine.id}/messages`, { body: { text: "hi" } }), 403)).code).toBe("not_owner");
    expect((await call(admin.caller, `/api/sites/${site}/conversations/${mine.id}`, { method: "PATCH", body: { title: "mine now" } })).status).toBe(403);
    expect((await call(admin.caller, `/api/sites/${site}/conversations/${mine.id}/stop`, { body: {} })).status).toBe(409);
    expect((await call(admin.caller, `/api/sites/${site}/conversations/${mine.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(member.caller, `/api/sites/${site}/conversations/${mine.id}`)).status).toBe(404);

    const otherSite = await newSite();
    expect((await call(admin.caller, `/api/sites/${otherSite}/conversations/${theirs.id}`)).status).toBe(403);
  });

  it("an answer continued after the step limit runs with the rights of who continues it, not of who started it", async () => {
    const own = await newSite();
    const boss = await join(own, "admin", root);
    const machine = await connectNode(own, await registerNode(own, { name: "db-1", id: "db-1", tier: "root" }));
    expect((await call(boss.caller, `/api/sites/${own}/settings`, { method: "PATCH", body: { chatStepLimit: 1 } })).status).toBe(200);
    const key = mockKey();
    await setSiteKey(boss.caller, own, key);
    await script(key, { toolCalls: [{ name: "get_agent_health", input: {} }] }, { toolCalls: [{ name: "get_disk_usage", input: { path: "/root" } }] });
    // The admin's chat key starts it: confined to the readable paths, tools of risk tier 1.
    const chatKey = await createKey(boss.caller, "chat");
    const readKey = await createKey(boss.caller, "read");
    const conv = await newConversation(chatKey.caller, own, { node: "db-1" });
    const keyStream = await openChatStream(chatKey.caller, own, conv.id);
    await ask(chatKey.caller, own, conv.id, "check the agent");
    const first = await machine.next("directive");
    machine.take("directive");
    machine.send({ type: "result", directiveId: first.id, success: true, output: "healthy", durationMs: 1, exitCode: 0 });
    expect((await keyStream.done()).status).toBe("step_limit");
    expect(toolNames((await recorded(key))[0]!.body)).not.toContain("manage_service");
    expect((await view(readKey.caller, own, conv.id)).turn?.toolTier).toBe(1);

    // The admin continues it with the admin's rights: tools above tier 1 are offered, and the disk tool, unconfined,
    // may look in /root.
    expect((await call(boss.caller, `/api/sites/${own}/conversations/${conv.id}/continue`, { body: {} })).status).toBe(200);
    // Confined readers may not follow an answer whose tools run unconfined: the key's stream is closed at once.
    await keyStream.until(() => false, "the stream's end").catch((error: Error) => expect(error.message).toContain("ended"));
    const disk = await machine.next("directive");
    expect(disk).toMatchObject({ action: "disk.usage", params: { path: "/root" } });
    machine.send({ type: "result", directiveId: disk.id, success: true, output: '{"largest":"customers.sql"}', durationMs: 1, exitCode: 0 });
    expect(toolNames((await recorded(key))[1]!.body)).toContain("manage_service");
    const v = await view(boss.caller, own, conv.id);
    expect(v.turn?.toolTier).toBe(3);

    // From now on the keys may neither read nor continue it: the admin's tools printed what they may not read.
    for (const caller of [readKey.caller, chatKey.caller]) {
      for (const path of ["", "/events"]) expect((await refusal(await call(caller, `/api/sites/${own}/conversations/${conv.id}${path}`), 403)).code).toBe("not_readable");
      expect((await refusal(await call(caller, `/api/sites/${own}/conversations/${conv.id}/messages`, { body: { text: "what did it find?" } }), 403)).code).toBe("not_readable");
      // Nor point the admin's answers at other machines.
      expect((await refusal(await call(caller, `/api/sites/${own}/conversations/${conv.id}`, { method: "PATCH", body: { target: { all: true } } }), 403)).code).toBe("not_readable");
    }
    expect((await view(boss.caller, own, conv.id)).conversation.target).toEqual({ node: "db-1" });
    expect(await recorded(key)).toHaveLength(2);
    await keyStream.close();
  });

  it("only the owner decides a confirmation, and only while still allowed tier 3", async () => {
    const owner = await join(site, "admin", root, "owner");
    const key = mockKey();
    await setSiteKey(admin.caller, site, key);
    await script(key, { toolCalls: [{ name: "run_command", input: { command: "uptime" } }] }, { text: "ok" });
    const conv = await newConversation(owner.caller, site, { node: "web-1" });
    const stream = await openChatStream(owner.caller, site, conv.id);
    await ask(owner.caller, site, conv.id, "uptime please");
    const asked = await stream.until((e): e is Extract<ChatEvent, { type: "confirmation" }> => e.type === "confirmation", "a confirmation");
    const path = `/api/sites/${site}/conversations/${conv.id}/confirmations/${asked.toolCall.id}`;
    expect((await refusal(await call(admin.caller, path, { body: { approve: true } }), 403)).code).toBe("not_owner");
    // Demoted to member: the owner can no longer approve a tier-3 call.
    expect((await call(root, `/api/sites/${site}/members/${owner.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(200);
    expect((await refusal(await call(owner.caller, path, { body: { approve: true } }), 403)).code).toBe("action_not_allowed");
    // The demotion closed the owner's event stream (their access changed). As a member they are confined, and the
    // answer ran with an admin's unconfined tools: they may not read it any more, but may still turn the call down.
    await stream.until((e) => e.type === "deleted", "the stream's end").catch((error: Error) => expect(error.message).toContain("ended"));
    expect((await refusal(await call(owner.caller, `/api/sites/${site}/conversations/${conv.id}/events`), 403)).code).toBe("not_readable");
    expect((await call(owner.caller, path, { body: { approve: false } })).status).toBe(200);
    expect((await call(root, `/api/sites/${site}/members/${owner.userId}`, { method: "PATCH", body: { role: "admin" } })).status).toBe(200);
    await vi.waitFor(async () => expect((await view(owner.caller, site, conv.id)).turn?.status).toBe("done"));
    expect(agent.take("directive")).toEqual([]);
    await stream.close();
  });
});

describe("conversations", () => {
  it("are created, listed newest first, renamed, re-targeted and deleted; bad input changes nothing", async () => {
    const a = await newConversation(admin.caller, site, { node: "web-1" });
    const b = await newConversation(admin.caller, site, { all: true });
    const renamed = await expectJson(await call(admin.caller, `/api/sites/${site}/conversations/${a.id}`, { method: "PATCH", body: { title: "Disk on web-1", model: "claude-opus-5-5" } }), 200, ConversationSummary);
    expect(renamed).toMatchObject({ title: "Disk on web-1", model: "claude-opus-5-5", target: { node: "web-1" } });
    const listed = await expectJson(await call(admin.caller, `/api/sites/${site}/conversations?mine=1`), 200, ConversationListResponse);
    const order = listed.conversations.map((c) => c.id);
    expect(order.indexOf(a.id)).toBeLessThan(order.indexOf(b.id));

    const base = `/api/sites/${site}/conversations`;
    expect((await call(admin.caller, base, { body: { target: { node: "nope" } } })).status).toBe(404);
    expect((await call(admin.caller, base, { body: { target: { node: "web-1", all: true } } })).status).toBe(400);
    expect((await call(admin.caller, base, { body: "{not json" })).status).toBe(400);
    expect((await call(admin.caller, `${base}/not-an-id`)).status).toBe(400);
    expect((await call(admin.caller, `${base}/c-${crypto.randomUUID()}`)).status).toBe(404);
    expect((await call(admin.caller, `${base}/${a.id}/messages`, { body: { text: "x".repeat(40_000) } })).status).toBe(400);
    expect((await call(admin.caller, `${base}/${a.id}/messages`, { body: { text: "   " } })).status).toBe(400);
    expect((await call(admin.caller, `${base}/${a.id}`, { method: "PATCH", body: {} })).status).toBe(400);
    expect((await call(admin.caller, `${base}/${a.id}`, { method: "PATCH", body: { target: { node: "ghost" } } })).status).toBe(404);
    expect((await call(admin.caller, `${base}/${a.id}/confirmations/t-${crypto.randomUUID()}`, { body: { approve: true } })).status).toBe(404);
    expect((await call(admin.caller, `${base}/${a.id}/confirmations/bad`, { body: { approve: true } })).status).toBe(400);
    expect((await view(admin.caller, site, a.id)).conversation).toMatchObject({ title: "Disk on web-1", target: { node: "web-1" } });

    expect((await call(admin.caller, `${base}/${b.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await call(admin.caller, `${base}/${b.id}`)).status).toBe(404);
    const after = await expectJson(await call(admin.caller, `${base}?mine=1`), 200, ConversationListResponse);
    expect(after.conversations.map((c) => c.id)).not.toContain(b.id);
  });

  it("streams over a hibernatable socket: the replay on attach, the deletion at the end; other origins are refused", async () => {
    const conv = await newConversation(admin.caller, site, { node: "web-1" });
    const headers = { Upgrade: "websocket", Cookie: `__Host-cortex_session=${(admin.caller as { cookie: string }).cookie}`, Origin: BASE };
    const crossSite = await SELF.fetch(`${BASE}/api/sites/${site}/conversations/${conv.id}/socket`, { headers: { ...headers, Origin: "https://evil.example" } });
    expect(crossSite.status).toBe(403);
    const res = await SELF.fetch(`${BASE}/api/sites/${site}/conversations/${conv.id}/socket`, { headers });
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const received: ChatEvent[] = [];
    ws.addEventListener("message", (e) => {
      received.push(ChatEvent.parse(JSON.parse(String(e.data))));
    });
    ws.accept();
    ws.send("hello?");
    await waitFor(() => received.some((e) => e.type === "error"));
    expect(received.map((e) => e.type).slice(0, 2)).toEqual(["snapshot", "synced"]);
    expect(received.find((e) => e.type === "error")).toMatchObject({ code: "listen_only" });
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    expect((await call(admin.caller, `/api/sites/${site}/conversations/${conv.id}`, { method: "DELETE" })).status).toBe(200);
    expect(await closed).toBe(1000);
    expect(received.at(-1)).toEqual({ type: "deleted" });
  });
});

describe("access that ends closes the chat's sockets and streams", () => {
  async function socketOf(caller: Caller, at: string, id: string) {
    const headers: Record<string, string> = { Upgrade: "websocket", Origin: BASE };
    if (caller.kind === "cookie") headers.Cookie = `__Host-cortex_session=${caller.cookie}`;
    if (caller.kind === "bearer") headers.Authorization = `Bearer ${caller.key}`;
    const res = await SELF.fetch(`${BASE}/api/sites/${at}/conversations/${id}/socket`, { headers });
    if (!res.webSocket) throw new Error(`chat socket refused: ${res.status} ${await res.text()}`);
    const ws = res.webSocket;
    const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
    const synced = new Promise<void>((resolve) =>
      ws.addEventListener("message", (e) => {
        if (String(e.data).includes('"synced"')) resolve();
      }),
    );
    ws.accept();
    await synced;
    // Wrapped: an async function returning the promise itself would wait for the close.
    return { closed };
  }

  it("signing out closes them (4401); removal from the site closes them (4403); an admin's own stay open", async () => {
    const own = await newSite();
    const person = await join(own, "member", root);
    const boss = await join(own, "admin", root);
    await registerNode(own, { name: "db-1", id: "db-1", tier: "root" });
    const mine = await newConversation(person.caller, own, { node: "db-1" });
    const bosses = await newConversation(boss.caller, own, { node: "db-1" });
    const { closed: socketClosed } = await socketOf(person.caller, own, mine.id);
    const stream = await openChatStream(person.caller, own, mine.id);
    await stream.until((e) => e.type === "synced", "the replay");
    const { closed: bossSocket } = await socketOf(boss.caller, own, bosses.id);
    expect((await call(person.caller, "/api/auth/logout", { body: {} })).status).toBe(204);
    expect(await socketClosed).toBe(LiveCloseCode.SIGNED_OUT);
    await stream.until((e) => e.type === "deleted", "the end of the stream").catch((error: Error) => expect(error.message).toContain("ended"));

    const again = await signIn(person.email, PASSWORD);
    const { closed: reopened } = await socketOf(again, own, mine.id);
    expect((await call(root, `/api/sites/${own}/members/${person.userId}`, { method: "DELETE" })).status).toBe(200);
    expect(await reopened).toBe(LiveCloseCode.ACCESS_CHANGED);
    expect(await Promise.race([bossSocket, new Promise((r) => setTimeout(() => r("still open"), 300))])).toBe("still open");
    expect((await call(again, `/api/sites/${own}/conversations/${mine.id}/events`)).status).toBe(403);
  });

  /** Resolves once the stream has been ended by the hub; fails the test if it is still open after the wait. */
  async function streamEnds(stream: Awaited<ReturnType<typeof openChatStream>>): Promise<void> {
    await expect(stream.until(() => false, "the end of the stream", 3_000)).rejects.toThrow(/ended before/);
  }

  it("revoking an API key closes the chat socket and stream opened with it (4401) and refuses the key's next request", async () => {
    const own = await newSite();
    const person = await join(own, "member", root);
    await registerNode(own, { name: "db-1", id: "db-1", tier: "root" });
    const key = await createKey(person.caller, "chat");
    const conv = await newConversation(key.caller, own, { node: "db-1" });
    const { closed: byKey } = await socketOf(key.caller, own, conv.id);
    const stream = await openChatStream(key.caller, own, conv.id);
    await stream.until((e) => e.type === "synced", "the replay");
    const { closed: bySession } = await socketOf(person.caller, own, conv.id);
    expect((await call(person.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" })).status).toBe(200);
    expect(await byKey).toBe(LiveCloseCode.SIGNED_OUT);
    await streamEnds(stream);
    expect((await refusal(await call(key.caller, `/api/sites/${own}/chat`), 401)).code).toBe("invalid_api_key");
    expect((await refusal(await call(key.caller, `/api/sites/${own}/conversations/${conv.id}/messages`, { body: { text: "hi" } }), 401)).code).toBe("invalid_api_key");
    // The same person's session is another credential: its socket stays open.
    expect(await Promise.race([bySession, new Promise((r) => setTimeout(() => r("still open"), 300))])).toBe("still open");
  });

  it("a demotion closes the admin's chat sockets and streams (4403) and caps the very next request's tools at tier 1", async () => {
    const own = await newSite();
    const boss = await join(own, "admin", root);
    await registerNode(own, { name: "db-1", id: "db-1", tier: "root" });
    const setup = (who: Caller) => call(who, `/api/sites/${own}/chat`).then((r) => expectJson(r, 200, ChatSetupResponse));
    expect((await setup(boss.caller)).toolTier).toBe(3);
    const conv = await newConversation(boss.caller, own, { node: "db-1" });
    const { closed } = await socketOf(boss.caller, own, conv.id);
    const stream = await openChatStream(boss.caller, own, conv.id);
    await stream.until((e) => e.type === "synced", "the replay");
    expect((await call(root, `/api/sites/${own}/members/${boss.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(200);
    expect(await closed).toBe(LiveCloseCode.ACCESS_CHANGED);
    await streamEnds(stream);
    expect((await setup(boss.caller)).toolTier).toBe(1);
    // Still a member: their own conversation opens again, with a member's rights.
    const { closed: again } = await socketOf(boss.caller, own, conv.id);
    expect((await call(root, `/api/sites/${own}/members/${boss.userId}`, { method: "PATCH", body: { role: "admin" } })).status).toBe(200);
    expect((await setup(boss.caller)).toolTier).toBe(3);
    // A promotion takes nothing away: the socket stays open.
    expect(await Promise.race([again, new Promise((r) => setTimeout(() => r("still open"), 300))])).toBe("still open");
  });

  it("a removal refuses the person's very next chat request, with a session and with a key", async () => {
    const own = await newSite();
    const person = await join(own, "member", root);
    await registerNode(own, { name: "db-1", id: "db-1", tier: "root" });
    const key = await createKey(person.caller, "chat");
    const conv = await newConversation(person.caller, own, { node: "db-1" });
    for (const who of [person.caller, key.caller]) expect((await call(who, `/api/sites/${own}/conversations/${conv.id}`)).status).toBe(200);
    expect((await call(root, `/api/sites/${own}/members/${person.userId}`, { method: "DELETE" })).status).toBe(200);
    for (const who of [person.caller, key.caller]) {
      expect((await refusal(await call(who, `/api/sites/${own}/conversations/${conv.id}`), 403)).code).toBe("no_site_access");
      expect((await refusal(await call(who, `/api/sites/${own}/conversations`, { body: { target: { node: "db-1" } } }), 403)).code).toBe("no_site_access");
    }
  });
});

describe("the AI tools switch", () => {
  it("site admins turn it off per machine, and then every chat tool call to that machine is refused", async () => {
    const own = await newSite();
    const boss = await join(own, "admin", root);
    const worker = await join(own, "member", root);
    const machine = await connectNode(own, await registerNode(own, { name: "db-1", id: "db-1", tier: "root" }));
    expect((await call(worker.caller, `/api/sites/${own}/nodes/db-1`, { method: "PATCH", body: { aiToolsAllowed: false } })).status).toBe(403);
    expect((await call(boss.caller, `/api/sites/${own}/nodes/db-1`, { method: "PATCH", body: { aiToolsAllowed: "no" } })).status).toBe(400);
    const off = await expectJson(await call(boss.caller, `/api/sites/${own}/nodes/db-1`, { method: "PATCH", body: { aiToolsAllowed: false } }), 200, NodeView);
    expect(off.aiToolsAllowed).toBe(false);
    const key = mockKey();
    await setSiteKey(boss.caller, own, key);
    await script(key, { toolCalls: [{ name: "get_system_info", input: {} }] }, { text: "Refused." });
    const conv = await newConversation(boss.caller, own, { node: "db-1" });
    const stream = await openChatStream(boss.caller, own, conv.id);
    await ask(boss.caller, own, conv.id, "how is db-1?");
    expect((await stream.done()).status).toBe("done");
    expect(machine.take("directive")).toEqual([]);
    const toolCall = (await view(boss.caller, own, conv.id)).messages[1]!.toolCalls[0]!;
    expect(toolCall.status).toBe("refused");
    expect(toolCall.results[0]!.error).toContain("AI tools are turned off on node db-1");
    const directives = await expectJson(await call(boss.caller, `/api/sites/${own}/directives`), 200, DirectiveListResponse);
    expect(directives.directives[0]).toMatchObject({ status: "refused", errorCode: "ai_tools_off", requestedBy: `${boss.email} via chat ${conv.id}` });
    // A directive from the API (not the chat) still runs: the switch is about AI tools only.
    const direct = call(boss.caller, `/api/sites/${own}/nodes/db-1/directives`, { body: { action: "system.info", params: {} } });
    const d = await machine.next("directive");
    machine.send({ type: "result", directiveId: d.id, success: true, output: "fine", durationMs: 1, exitCode: 0 });
    expect((await direct).status).toBe(200);
    const log = await expectJson(await call(boss.caller, `/api/sites/${own}/activity?kind=chat`), 200, ActivityPage);
    expect(log.entries.some((e) => e.message.includes("AI tools turned off on node db-1"))).toBe(true);
    await stream.close();
  });
});

async function waitFor(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
