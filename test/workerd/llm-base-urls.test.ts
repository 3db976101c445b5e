import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { Conversation } from "../../durable-objects/conversation/conversation.ts";
import { ActivityPage } from "../../protocol/api.ts";
import { LlmKeyResponse } from "../../protocol/llm.ts";
import { call, expectJson, join, newSite, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";
import { ask, mockBase, mockKey, mockKeyBody, newConversation, openChatStream, recorded, script, setSiteKey, view } from "./chat-support.ts";
import { registerNode } from "./support.ts";

type Flag = { CORTEX_ALLOW_PRIVATE_LLM_URLS?: string };

/** Runs `fn` with private base URLs refused, as on a hub whose operator has not allowed them. */
async function refusingPrivate<T>(target: Flag, fn: () => Promise<T>): Promise<T> {
  const allowed = target.CORTEX_ALLOW_PRIVATE_LLM_URLS;
  target.CORTEX_ALLOW_PRIVATE_LLM_URLS = undefined;
  try {
    return await fn();
  } finally {
    target.CORTEX_ALLOW_PRIVATE_LLM_URLS = allowed;
  }
}

let root: Caller;
let site: string;
let admin: Person;
let member: Person;

beforeAll(async () => {
  root = await rootSession();
  site = await newSite();
  admin = await join(site, "admin", root);
  member = await join(site, "member", root);
  await registerNode(site, { name: "db-1", id: "db-1", tier: "root" });
});

const PRIVATE_BASE_URLS = [
  "http://127.0.0.1:9229/json",
  "http://localhost:8787/v1",
  "http://LOCALHOST./v1",
  "http://[::1]:11434/v1",
  "http://[::ffff:127.0.0.1]/v1",
  "http://2130706433/v1",
  "http://0x7f.1/v1",
  "http://10.0.0.5/v1",
  "http://192.168.1.20:8000/v1",
  "http://169.254.169.254/latest/meta-data",
  "http://metadata.google.internal/computeMetadata/v1",
  "http://intranet/v1",
  "http://[fd00::1]/v1",
  "http://[64:ff9b::a00:1]/v1",
];

describe("an AI key's base URL on a hub that does not allow private addresses", () => {
  it.each(PRIVATE_BASE_URLS)("a member's personal key with base URL %s is refused and nothing is saved", async (baseUrl) => {
    const res = await refusingPrivate(env as Flag, () =>
      call(member.caller, "/api/account/llm-key", { method: "PUT", body: { ...mockKeyBody(mockKey(), "openai-compatible"), baseUrl } }),
    );
    expect((await refusal(res, 400)).code).toBe("private_base_url");
    expect((await expectJson(await call(member.caller, "/api/account/llm-key"), 200, LlmKeyResponse)).key).toBeNull();
  });

  it("a site key on loopback is refused too, and a public base URL is taken", async () => {
    const privateKey = { ...mockKeyBody(mockKey(), "openai-compatible"), baseUrl: "http://127.0.0.1:8787/v1" };
    const refused = await refusingPrivate(env as Flag, () => call(admin.caller, `/api/sites/${site}/llm-key`, { method: "PUT", body: privateKey }));
    expect((await refusal(refused, 400)).code).toBe("private_base_url");
    expect((await expectJson(await call(admin.caller, `/api/sites/${site}/llm-key`), 200, LlmKeyResponse)).key).toBeNull();
    const publicKey = { ...mockKeyBody(mockKey(), "openai-compatible"), baseUrl: "https://models.example.com/v1" };
    const taken = await refusingPrivate(env as Flag, () => call(member.caller, "/api/account/llm-key", { method: "PUT", body: publicKey }));
    expect((await expectJson(taken, 200, LlmKeyResponse)).key?.baseUrl).toBe("https://models.example.com/v1");
    expect((await call(member.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(200);
  });

  it("a key saved while they were allowed is not called once they are not", async () => {
    const key = mockKey("saved-before");
    await script(key, { text: "should never be asked" });
    await setSiteKey(admin.caller, site, key);
    const conv = await newConversation(admin.caller, site, { node: "db-1" });
    const stub = env.CONVERSATION.get(env.CONVERSATION.idFromName(`${site}/${conv.id}`));
    const sent = await runInDurableObject(stub, (instance: Conversation) =>
      refusingPrivate((instance as unknown as { env: Flag }).env, () =>
        instance.send({ text: "hello", asker: { id: admin.userId, label: admin.email, confined: false }, toolTier: 3, stepLimit: 5 }),
      ),
    );
    expect(sent).toMatchObject({ ok: false, error: { code: "no_llm_key" } });
    expect(JSON.stringify(sent)).toContain("private or loopback address");
    expect(await recorded(key)).toEqual([]);
    expect((await view(admin.caller, site, conv.id)).turn).toBeNull();
  });
});

describe("redirects from a model server", () => {
  it("are not followed: the answer fails with the redirect, and the place it pointed to is never asked", async () => {
    const key = mockKey("redirect");
    // A 307 keeps the method and body: followed, the request (and the key in its headers) would reach the second turn.
    await script(key, { error: { status: 307, location: `${mockBase()}/v1/messages` } }, { text: "followed the redirect" });
    await setSiteKey(admin.caller, site, key);
    const conv = await newConversation(admin.caller, site, { node: "db-1" });
    const stream = await openChatStream(admin.caller, site, conv.id);
    await ask(admin.caller, site, conv.id, "hello");
    expect((await stream.done()).status).toBe("error");
    expect(await recorded(key)).toHaveLength(1);
    const messages = (await view(admin.caller, site, conv.id)).messages.map((m) => m.text).join("\n");
    expect(messages).not.toContain("followed the redirect");
  });
});

describe("a site key's destination", () => {
  it("is said in the site's activity whenever an admin saves the key: the provider's own API, or the base URL's host", async () => {
    const save = (body: Record<string, unknown>) => call(admin.caller, `/api/sites/${site}/llm-key`, { method: "PUT", body });
    const key = mockKey();
    expect((await save({ provider: "anthropic", model: "claude-sonnet-5-5", key, baseUrl: "https://gateway.example.net/anthropic" })).status).toBe(200);
    expect((await save({ provider: "openai", model: "gpt-4o", key })).status).toBe(200);
    const log = await expectJson(await call(admin.caller, `/api/sites/${site}/activity?kind=chat`), 200, ActivityPage);
    const saved = log.entries.map((e) => e.message).filter((m) => m.includes(`(…${key.slice(-4)}`));
    expect(saved).toEqual([
      expect.stringMatching(/^site openai key saved by .*, model gpt-4o, sent to the provider's own API\)$/),
      expect.stringMatching(/^site anthropic key saved by .*, model claude-sonnet-5-5, sent to gateway\.example\.net\)$/),
    ]);
  });
});
