import { beforeAll, describe, expect, it } from "vitest";
import { ApiKeyListResponse, CreatedApiKey, MeResponse } from "../../protocol/accounts.ts";
import { DirectiveView } from "../../protocol/api.ts";
import { call, createKey, credentialSql, directorySql, expectJson, join, newSite, refusal, rootSession, type Caller } from "./accounts-support.ts";
import { connectNode, registerNode } from "./support.ts";

let root: Caller;
beforeAll(async () => {
  root = await rootSession();
});

describe("API keys", () => {
  it("are shown once, stored only as a hash, and listed with their prefix, scope and last use", async () => {
    const admin = await join(await newSite(), "admin", root);
    const created = await expectJson(await call(admin.caller, "/api/auth/api-keys", { body: { name: "ci", scope: "read" } }), 201, CreatedApiKey);
    expect(created.key).toMatch(/^cxk_[0-9a-f]{64}$/);
    expect(created.apiKey).toMatchObject({ name: "ci", scope: "read", prefix: created.key.slice(0, 12), lastUsedAt: null, revokedAt: null, expiresAt: null });

    const me = await expectJson(await call({ kind: "bearer", key: created.key }, "/api/auth/me"), 200, MeResponse);
    expect(me.credential).toEqual({ kind: "api_key", scope: "read", keyName: "ci" });

    const listed = await expectJson(await call(admin.caller, "/api/auth/api-keys"), 200, ApiKeyListResponse);
    expect(listed.apiKeys).toHaveLength(1);
    expect(listed.apiKeys[0]!.lastUsedAt).toBeGreaterThan(0);
    expect(JSON.stringify(listed)).not.toContain(created.key);
    const stored = await directorySql((sql) => JSON.stringify(sql.exec("SELECT * FROM api_keys").toArray()) + JSON.stringify(sql.exec("SELECT * FROM audit").toArray()));
    expect(stored).not.toContain(created.key);
  });

  it("are revoked for good: the key is refused at once, a second revocation is a 409, and nobody else can revoke it", async () => {
    const admin = await join(await newSite(), "admin", root);
    const other = await join(await newSite(), "admin", root);
    const key = await createKey(admin.caller, "admin");
    expect((await refusal(await call(other.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" }), 404)).code).toBe("key_not_found");
    expect((await call(key.caller, "/api/auth/me")).status).toBe(200);
    const revoked = await call(admin.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    expect((await refusal(await call(key.caller, "/api/auth/me"), 401)).message).toBe("invalid API key");
    expect((await refusal(await call(admin.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" }), 409)).code).toBe("already_revoked");
  });

  it("stop working when they expire; an expiry in the past or of the wrong type is refused", async () => {
    const admin = await join(await newSite(), "admin", root);
    const key = await createKey(admin.caller, "read", { expiresAt: Date.now() + 3600_000 });
    expect((await call(key.caller, "/api/auth/me")).status).toBe(200);
    await credentialSql(key.key, (sql, hash) => sql.exec("UPDATE credentials SET expires_at = ? WHERE hash = ?", Date.now() - 1, hash));
    expect((await call(key.caller, "/api/auth/me")).status).toBe(401);
    expect((await refusal(await call(admin.caller, "/api/auth/api-keys", { body: { name: "old", scope: "read", expiresAt: Date.now() - 1000 } }), 400)).code).toBe("expiry_in_past");
    expect((await refusal(await call(admin.caller, "/api/auth/api-keys", { body: { name: "x", scope: "root", expiresAt: "tomorrow" } }), 400)).issues?.map((i) => i.path).sort()).toEqual(["expiresAt", "scope"]);
    const listed = await expectJson(await call(admin.caller, "/api/auth/api-keys"), 200, ApiKeyListResponse);
    expect(listed.apiKeys.map((k) => k.id)).toEqual([key.id]);
  });

  it("cannot manage an account: no new keys, no password change, no passkeys", async () => {
    const admin = await join(await newSite(), "admin", root);
    const key = await createKey(admin.caller, "admin");
    const minted = await call(key.caller, "/api/auth/api-keys", { body: { name: "more", scope: "admin" } });
    expect((await refusal(minted, 403)).code).toBe("session_required");
    expect((await call(key.caller, "/api/auth/password", { body: { currentPassword: "x", newPassword: "y".repeat(12) } })).status).toBe(403);
    expect((await call(key.caller, "/api/auth/passkeys/register/options", { body: {} })).status).toBe(403);
  });

  it("of chat scope run only read-only actions, even when the owner is an admin", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const chat = await createKey(admin.caller, "chat");
    const creds = await registerNode(site, { name: "box", tier: "root" });
    const agent = await connectNode(site, creds);
    const shell = await call(chat.caller, `/api/sites/${site}/nodes/box/directives`, { body: { action: "bash", params: { command: "reboot" } } });
    expect(await refusal(shell, 403)).toEqual({
      code: "action_not_allowed",
      message: "a chat API key may run only read-only actions (risk tier 1); this one is tier 3",
    });
    const fanout = await call(chat.caller, `/api/sites/${site}/fanouts`, { body: { action: "write", params: { path: "/etc/motd", content: "x" }, target: { all: true } } });
    expect((await refusal(fanout, 403)).code).toBe("action_not_allowed");
    expect(agent.received.filter((m) => typeof m !== "string" && m.type === "directive")).toEqual([]);

    const read = call(chat.caller, `/api/sites/${site}/nodes/box/directives`, { body: { action: "read", params: { path: "/var/log/notes" } } });
    const sent = await agent.next("directive");
    expect(sent.action).toBe("read");
    agent.send({ type: "result", directiveId: sent.id, success: true, output: "hello", durationMs: 1, exitCode: 0 });
    const done = DirectiveView.parse(await (await read).json());
    expect(done).toMatchObject({ status: "done", requestedBy: `${admin.email} (key chat key)` });
  });

  it("never exceed their owner's role: an admin-scoped key of a member only reads, and follows the owner's promotion", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    const key = await createKey(member.caller, "admin");
    expect((await refusal(await call(key.caller, `/api/sites/${site}/nodes`, { body: { name: "x" } }), 403)).message).toBe(`members of site ${site} may not manage nodes`);
    await call(root, `/api/sites/${site}/members/${member.userId}`, { method: "PATCH", body: { role: "admin" } });
    expect((await call(key.caller, `/api/sites/${site}/nodes`, { body: { name: "x" } })).status).toBe(201);
  });
});

describe("cancelling", () => {
  it("needs the right to run the directive's action: a member may not stop an admin's shell command", async () => {
    const site = await newSite();
    const admin = await join(site, "admin", root);
    const member = await join(site, "member", root);
    const agent = await connectNode(site, await registerNode(site, { name: "box", tier: "root" }));
    const running = call(admin.caller, `/api/sites/${site}/nodes/box/directives`, { body: { action: "bash", params: { command: "sleep 60" } } });
    const sent = await agent.next("directive");
    const byMember = await call(member.caller, `/api/sites/${site}/directives/${sent.id}/cancel`, { method: "POST" });
    expect((await refusal(byMember, 403)).code).toBe("action_not_allowed");
    expect(await (await call(admin.caller, `/api/sites/${site}/directives/${sent.id}/cancel`, { method: "POST" })).json()).toMatchObject({ status: "cancelled" });
    expect(DirectiveView.parse(await (await running).json()).status).toBe("cancelled");
  });

  it("of a member's own read is allowed to the member", async () => {
    const site = await newSite();
    const member = await join(site, "member", root);
    const agent = await connectNode(site, await registerNode(site, { name: "box", tier: "root" }));
    const running = call(member.caller, `/api/sites/${site}/nodes/box/directives`, { body: { action: "grep", params: { pattern: "x", path: "/var/log" } } });
    const sent = await agent.next("directive");
    expect((await call(member.caller, `/api/sites/${site}/directives/${sent.id}/cancel`, { method: "POST" })).status).toBe(200);
    expect(DirectiveView.parse(await (await running).json()).status).toBe("cancelled");
  });
});
