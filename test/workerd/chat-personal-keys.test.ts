import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { PersonalLlmKeys, type LegacyLlmKeyClaim } from "../../durable-objects/credentials/personal-llm-keys.ts";
import { LlmKeyRows, type StoredLlmKey } from "../../durable-objects/shared/llm-key-rows.ts";
import { sealLlmKey } from "../../durable-objects/shared/llm-keys.ts";
import { AuditPage } from "../../protocol/accounts.ts";
import { ChatSetupResponse } from "../../protocol/chat.ts";
import { LlmKeyResponse } from "../../protocol/llm.ts";
import { call, directorySql, expectJson, join, newSite, personalKeySql, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";
import { ask, type ChatStream, mockKey, mockKeyBody, newConversation, openChatStream, recorded, script, setSiteKey, view } from "./chat-support.ts";
import { registerNode } from "./support.ts";

let root: Caller;

beforeAll(async () => {
  root = await rootSession();
});

/** A site with one node and a person of the given role on it, without any AI key yet. */
async function siteWith(role: "admin" | "member" = "admin"): Promise<{ site: string; person: Person }> {
  const site = await newSite();
  const person = await join(site, role, root);
  await registerNode(site, { name: "db-1", id: "db-1", tier: "root" });
  return { site, person };
}

/**
 * Puts a personal key where hubs before the move kept it (the Directory's `llm_keys`), sealed exactly as they sealed
 * it, and leaves the user's key shard as it was before the upgrade: knowing nothing of personal keys.
 */
async function saveTheOldWay(userId: string, key: string): Promise<void> {
  const stored = await sealLlmKey(env, "personal", userId, mockKeyBody(key, "openai"), "before the upgrade");
  await directorySql((sql) => new LlmKeyRows(sql, "llm_keys").put(userId, stored));
  await personalKeySql(userId, (sql) => {
    sql.exec("DELETE FROM personal_llm_keys WHERE owner = ?", userId);
    sql.exec("DELETE FROM llm_keys_settled WHERE owner = ?", userId);
    sql.exec("DELETE FROM shard_state WHERE name = 'llm_keys_moved_all'");
  });
}

async function inDirectory(userId: string): Promise<boolean> {
  return directorySql((sql) => sql.exec("SELECT 1 FROM llm_keys WHERE owner = ?", userId).toArray().length > 0);
}

/** Sends one message on a conversation whose event stream is open, waits for its answer, and says which key answered. */
async function turn(stream: ChatStream, caller: Caller, site: string, conversation: string, text: string) {
  await ask(caller, site, conversation, text);
  expect((await stream.done()).status).toBe("done");
  return (await view(caller, site, conversation)).turn?.keySource;
}

/** A new conversation on db-1 with its event stream open. */
async function converse(caller: Caller, site: string) {
  const conv = await newConversation(caller, site, { node: "db-1" });
  return { id: conv.id, stream: await openChatStream(caller, site, conv.id) };
}

describe("personal AI keys live in their owner's key shard", () => {
  it("a key saved in the Directory before the upgrade is used by the next message, and moves out of the Directory", async () => {
    const { site, person } = await siteWith();
    const old = mockKey("old");
    await saveTheOldWay(person.userId, old);
    await script(old, { text: "from the key saved before" });
    const conv = await converse(person.caller, site);
    expect(await turn(conv.stream, person.caller, site, conv.id, "hi")).toBe("personal");
    await conv.stream.close();
    expect(await recorded(old)).toHaveLength(1);
    expect(await inDirectory(person.userId)).toBe(false);
    const moved = await personalKeySql(person.userId, (sql) => new LlmKeyRows(sql, "personal_llm_keys").get(person.userId));
    expect(moved).toMatchObject({ provider: "openai", last4: old.slice(-4), updatedBy: "before the upgrade" });
    const shown = await expectJson(await call(person.caller, "/api/account/llm-key"), 200, LlmKeyResponse);
    expect(shown.key).toMatchObject({ scope: "personal", provider: "openai", last4: old.slice(-4) });

    // Once moved, a message never asks the Directory again: a row planted there now is neither used nor claimed.
    const planted = mockKey("planted");
    await directorySql(async (sql) => new LlmKeyRows(sql, "llm_keys").put(person.userId, await sealLlmKey(env, "personal", person.userId, mockKeyBody(planted, "openai"), "planted")));
    await script(old, { text: "still the moved key" });
    const next = await converse(person.caller, site);
    expect(await turn(next.stream, person.caller, site, next.id, "again")).toBe("personal");
    await next.stream.close();
    expect(await recorded(old)).toHaveLength(2);
    expect(await recorded(planted)).toEqual([]);
    expect(await inDirectory(person.userId)).toBe(true);
    await directorySql((sql) => new LlmKeyRows(sql, "llm_keys").remove(person.userId));
  });

  it("a key saved before the upgrade and then removed or replaced is never used again", async () => {
    const removed = await siteWith();
    const old = mockKey("removed");
    await saveTheOldWay(removed.person.userId, old);
    expect((await call(removed.person.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(200);
    expect(await inDirectory(removed.person.userId)).toBe(false);
    const conv = await newConversation(removed.person.caller, removed.site, { node: "db-1" });
    expect((await refusal(await call(removed.person.caller, `/api/sites/${removed.site}/conversations/${conv.id}/messages`, { body: { text: "hi" } }), 409)).code).toBe("no_llm_key");
    expect((await call(removed.person.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(404);

    const replaced = await siteWith();
    const before = mockKey("before");
    const after = mockKey("after");
    await saveTheOldWay(replaced.person.userId, before);
    expect((await call(replaced.person.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody(after) })).status).toBe(200);
    expect(await inDirectory(replaced.person.userId)).toBe(false);
    await script(after, { text: "from the new key" });
    const again = await converse(replaced.person.caller, replaced.site);
    expect(await turn(again.stream, replaced.person.caller, replaced.site, again.id, "hi")).toBe("personal");
    await again.stream.close();
    expect(await recorded(after)).toHaveLength(1);
    expect(await recorded(before)).toEqual([]);
  });

  it("another member of the site never uses or sees my key, and someone outside the site gets nothing", async () => {
    const { site, person: owner } = await siteWith();
    const other = await join(site, "member", root, "other");
    const mine = mockKey("mine");
    expect((await call(owner.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody(mine) })).status).toBe(200);

    expect((await expectJson(await call(other.caller, "/api/account/llm-key"), 200, LlmKeyResponse)).key).toBeNull();
    expect((await expectJson(await call(other.caller, `/api/sites/${site}/chat`), 200, ChatSetupResponse)).key).toBeNull();
    const theirs = await newConversation(other.caller, site, { node: "db-1" });
    expect((await refusal(await call(other.caller, `/api/sites/${site}/conversations/${theirs.id}/messages`, { body: { text: "hi" } }), 409)).code).toBe("no_llm_key");
    const owned = await newConversation(owner.caller, site, { node: "db-1" });
    // Not even that my conversation exists.
    expect((await refusal(await call(other.caller, `/api/sites/${site}/conversations/${owned.id}/messages`, { body: { text: "hi" } }), 404)).code).toBe("conversation_not_found");
    // Removing "their" key removes nothing of mine.
    expect((await call(other.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(404);

    const outsider = await join(await newSite(), "admin", root, "outsider");
    expect((await refusal(await call(outsider.caller, `/api/sites/${site}/chat`), 403)).code).toBe("no_site_access");
    expect((await refusal(await call(outsider.caller, `/api/sites/${site}/conversations/${owned.id}/messages`, { body: { text: "hi" } }), 403)).code).toBe("no_site_access");
    expect((await refusal(await call(outsider.caller, `/api/sites/${site}/conversations`, { body: { target: { node: "db-1" } } }), 403)).code).toBe("no_site_access");
    expect(await recorded(mine)).toEqual([]);
    expect((await expectJson(await call(owner.caller, "/api/account/llm-key"), 200, LlmKeyResponse)).key).toMatchObject({ last4: mine.slice(-4) });
  });

  it("a removed key is not used by the next message, and a new one is", async () => {
    const { site, person } = await siteWith();
    const first = mockKey("first");
    const fallback = mockKey("site");
    const second = mockKey("second");
    await setSiteKey(person.caller, site, fallback);
    expect((await call(person.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody(first) })).status).toBe(200);
    await script(first, { text: "one" });
    await script(fallback, { text: "two" });
    await script(second, { text: "three" });
    const conv = await converse(person.caller, site);
    expect(await turn(conv.stream, person.caller, site, conv.id, "one")).toBe("personal");

    expect((await call(person.caller, "/api/account/llm-key", { method: "DELETE" })).status).toBe(200);
    expect(await turn(conv.stream, person.caller, site, conv.id, "two")).toBe("site");
    expect(await recorded(first)).toHaveLength(1);
    expect(await recorded(fallback)).toHaveLength(1);

    expect((await call(person.caller, "/api/account/llm-key", { method: "PUT", body: mockKeyBody(second) })).status).toBe(200);
    expect(await turn(conv.stream, person.caller, site, conv.id, "three")).toBe("personal");
    await conv.stream.close();
    expect(await recorded(second)).toHaveLength(1);
    expect(await recorded(first)).toHaveLength(1);

    // Every change stays in the hub's audit trail, without the key.
    const audit = await expectJson(await call(root, "/api/audit?kind=llm_key&limit=500"), 200, AuditPage);
    expect(audit.entries.filter((e) => e.actor === person.email).map((e) => e.message)).toEqual([
      expect.stringContaining(`saved a personal anthropic key (…${second.slice(-4)}`),
      expect.stringContaining("removed their personal LLM key"),
      expect.stringContaining(`saved a personal anthropic key (…${first.slice(-4)}`),
    ]);
    expect(JSON.stringify(audit)).not.toContain(first.slice(0, -4));
  });
});

describe("claiming a key saved before the upgrade, with calls that overlap", () => {
  /**
   * A Directory that hands each user's key out once, as the real one does (a claim removes it there), and answers
   * each claim only when the test says so, in whatever order the test picks.
   */
  function slowDirectory(keys: Map<string, StoredLlmKey>) {
    const answers: { userId: string; answer: () => void }[] = [];
    const claimLegacy = (userId: string) =>
      new Promise<LegacyLlmKeyClaim>((resolve) => {
        const key = keys.get(userId) ?? null;
        keys.delete(userId);
        answers.push({ userId, answer: () => resolve({ key, done: keys.size === 0 }) });
      });
    return { claimLegacy, answers };
  }

  /** Runs `fn` on the real key shard of `userId`, in a state where nobody of it has been settled yet. */
  function inFreshShard<T>(userId: string, fn: (sql: SqlStorage) => Promise<T>): Promise<T> {
    return personalKeySql(userId, async (sql) => {
      sql.exec("DELETE FROM shard_state WHERE name = 'llm_keys_moved_all'");
      return fn(sql);
    });
  }

  const sealed = (userId: string, key: string) => sealLlmKey(env, "personal", userId, mockKeyBody(key, "openai"), "before the upgrade");
  const settledTurns = () => new Promise((resolve) => setTimeout(resolve, 0));

  it("two reads of one user ask the Directory once, and both get the key, whichever answer comes first", async () => {
    const userId = `u-overlap-${crypto.randomUUID()}`;
    const old = await sealed(userId, mockKey("overlap"));
    const directory = slowDirectory(new Map([[userId, old]]));
    const got = await inFreshShard(userId, async (sql) => {
      const keys = new PersonalLlmKeys(sql, directory.claimLegacy);
      const first = keys.get(userId);
      const second = keys.get(userId);
      await settledTurns();
      for (const claim of [...directory.answers].reverse()) claim.answer();
      return Promise.all([first, second]);
    });
    expect(got.map((k) => k?.last4)).toEqual([old.last4, old.last4]);
    expect(directory.answers).toHaveLength(1);
    expect(await personalKeySql(userId, (sql) => new LlmKeyRows(sql, "personal_llm_keys").get(userId)?.last4)).toBe(old.last4);
  });

  it("a key saved while the old one is being claimed wins, even when another user's claim ends the move meanwhile", async () => {
    const userId = `u-newer-${crypto.randomUUID()}`;
    const otherId = `u-other-${crypto.randomUUID()}`;
    const old = await sealed(userId, mockKey("older"));
    const newer = await sealed(userId, mockKey("newer"));
    const directory = slowDirectory(new Map([[userId, old]]));
    const final = await inFreshShard(userId, async (sql) => {
      sql.exec("DELETE FROM llm_keys_settled WHERE owner IN (?, ?)", userId, otherId);
      const keys = new PersonalLlmKeys(sql, directory.claimLegacy);
      const reading = keys.get(userId);
      await settledTurns();
      // The other user's claim finds the Directory empty (this user's key is already on its way) and says so.
      const other = keys.get(otherId);
      await settledTurns();
      directory.answers.find((a) => a.userId === otherId)!.answer();
      expect(await other).toBeNull();
      // Every user now counts as settled, but this one's key has not landed: a read waits for it rather than find none.
      const readingAgain = keys.get(userId);
      const saving = keys.set(userId, newer);
      directory.answers.find((a) => a.userId === userId)!.answer();
      expect((await reading)?.last4).toBe(old.last4);
      expect((await readingAgain)?.last4).toBe(old.last4);
      await saving;
      return keys.get(userId);
    });
    expect(final?.last4).toBe(newer.last4);
  });
});
