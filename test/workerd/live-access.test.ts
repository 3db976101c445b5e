import { beforeAll, describe, expect, it } from "vitest";
import { CreatedInvite, SignedOut } from "../../protocol/accounts.ts";
import { MAX_VIEWERS_PER_PERSON } from "../../protocol/limits.ts";
import { LiveCloseCode } from "../../protocol/live-messages.ts";
import { ANONYMOUS, call, createKey, expectJson, join, newSite, PASSWORD, rootSession, signIn, type Caller, type Person } from "./accounts-support.ts";

/**
 * The dashboard's live sockets end with the access that opened them: signing out, "sign out everywhere", a new
 * password (for the other sessions), a revoked API key, removal from the site and demotion close them at once,
 * not at the next reconnect. Other people's sockets, and the person's sockets elsewhere, stay open.
 */

class LiveSocket {
  closed: { code: number; reason: string } | null = null;
  private readonly opened: Promise<void>;

  constructor(readonly ws: WebSocket) {
    let resolve!: () => void;
    this.opened = new Promise((r) => (resolve = r));
    ws.addEventListener("message", () => resolve());
    ws.addEventListener("close", (e) => (this.closed = { code: e.code, reason: e.reason }));
  }

  /** Resolves once the snapshot arrived, so the socket is known to be live. */
  ready(): Promise<void> {
    return this.opened;
  }

  async waitClose(timeoutMs = 3_000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("the live socket was not closed");
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closed;
  }

  /** Still open a moment later: gives a close in flight the time to land first. */
  async stillOpen(): Promise<boolean> {
    await new Promise((r) => setTimeout(r, 150));
    return this.closed === null;
  }
}

async function watch(caller: Caller, site: string): Promise<LiveSocket> {
  const res = await call(caller, `/api/sites/${site}/live`, { headers: { Upgrade: "websocket" } });
  if (!res.webSocket) throw new Error(`live upgrade refused: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  const socket = new LiveSocket(res.webSocket);
  await socket.ready();
  return socket;
}

let root: Caller;
let site: string;

/** Makes a signed-in person a member of another site too, through an invite addressed to them. */
async function alsoJoin(person: Person, other: string): Promise<void> {
  const invite = await expectJson(await call(root, `/api/sites/${other}/invites`, { body: { email: person.email, role: "member" } }), 201, CreatedInvite);
  const accepted = await call(person.caller, "/api/invites/accept", { body: { token: new URL(invite.url).pathname.split("/").pop() } });
  if (accepted.status !== 200) throw new Error(`joining ${other}: ${accepted.status} ${await accepted.text()}`);
}

beforeAll(async () => {
  root = await rootSession();
  site = await newSite();
});

describe("live sockets close when the access behind them ends", () => {
  it("signing out closes the sockets of that session only", async () => {
    const person = await join(site, "member", root);
    const other = await signIn(person.email, PASSWORD);
    const [mine, theirs] = [await watch(person.caller, site), await watch(other, site)];
    expect((await call(person.caller, "/api/auth/logout", { method: "POST" })).status).toBe(204);
    expect(await mine.waitClose()).toEqual({ code: LiveCloseCode.SIGNED_OUT, reason: "signed out" });
    expect(await theirs.stillOpen()).toBe(true);
  });

  it("signing out everywhere closes every socket of the person, on every site, and nobody else's", async () => {
    const second = await newSite();
    const person = await join(site, "member", root);
    await alsoJoin(person, second);
    const bystander = await join(site, "member", root, "bystander");
    const laptop = await signIn(person.email, PASSWORD);
    const sockets = [await watch(person.caller, site), await watch(laptop, site), await watch(laptop, second)];
    const theirs = await watch(bystander.caller, site);
    const done = await expectJson(await call(person.caller, "/api/auth/logout-all", { method: "POST" }), 200, SignedOut);
    expect(done).toEqual({ signedOutSessions: 2, revokedApiKeys: 0 });
    for (const s of sockets) expect((await s.waitClose()).code).toBe(LiveCloseCode.SIGNED_OUT);
    expect(await theirs.stillOpen()).toBe(true);
  });

  it("a new password closes the other sessions' sockets and keeps the one that changed it", async () => {
    const person = await join(site, "member", root);
    const laptop = await signIn(person.email, PASSWORD);
    const [here, there] = [await watch(person.caller, site), await watch(laptop, site)];
    const body = { currentPassword: PASSWORD, newPassword: "another long password 43" };
    expect((await expectJson(await call(person.caller, "/api/auth/password", { body }), 200, SignedOut)).signedOutSessions).toBe(1);
    expect((await there.waitClose()).code).toBe(LiveCloseCode.SIGNED_OUT);
    expect(await here.stillOpen()).toBe(true);
  });

  it("revoking an API key closes the sockets opened with it", async () => {
    const person = await join(site, "admin", root);
    const key = await createKey(person.caller, "read");
    const [byKey, bySession] = [await watch(key.caller, site), await watch(person.caller, site)];
    expect((await call(person.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await byKey.waitClose()).code).toBe(LiveCloseCode.SIGNED_OUT);
    expect(await bySession.stillOpen()).toBe(true);
  });

  it("removal from a site closes the person's sockets there, and not on their other sites", async () => {
    const elsewhere = await newSite();
    const person = await join(site, "member", root);
    await alsoJoin(person, elsewhere);
    const key = await createKey(person.caller, "read");
    const [here, byKey, there] = [await watch(person.caller, site), await watch(key.caller, site), await watch(person.caller, elsewhere)];
    expect((await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "DELETE" })).status).toBe(200);
    expect(await here.waitClose()).toEqual({ code: LiveCloseCode.ACCESS_CHANGED, reason: "access changed" });
    expect((await byKey.waitClose()).code).toBe(LiveCloseCode.ACCESS_CHANGED);
    expect(await there.stillOpen()).toBe(true);
    // And the socket cannot simply be reopened.
    expect((await call(person.caller, `/api/sites/${site}/live`, { headers: { Upgrade: "websocket" } })).status).toBe(403);
  });

  it("demotion closes the person's sockets on the site; a promotion leaves them open", async () => {
    const person = await join(site, "admin", root);
    const socket = await watch(person.caller, site);
    const demote = await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "PATCH", body: { role: "member" } });
    expect(demote.status).toBe(200);
    expect((await socket.waitClose()).code).toBe(LiveCloseCode.ACCESS_CHANGED);

    const again = await watch(person.caller, site);
    const promote = await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "PATCH", body: { role: "admin" } });
    expect(promote.status).toBe(200);
    expect(await again.stillOpen()).toBe(true);
  });
});

describe("changing the password or signing out everywhere offers to revoke the API keys", () => {
  async function keyWorks(key: string): Promise<boolean> {
    return (await call({ kind: "bearer", key }, "/api/auth/me")).status === 200;
  }

  it("a password change keeps the keys unless asked, then revokes every one of them", async () => {
    const person = await join(site, "member", root);
    const keys = [await createKey(person.caller, "read"), await createKey(person.caller, "chat")];
    const first = { currentPassword: PASSWORD, newPassword: "second long password 44" };
    expect(await expectJson(await call(person.caller, "/api/auth/password", { body: first }), 200, SignedOut)).toEqual({ signedOutSessions: 0, revokedApiKeys: 0 });
    for (const k of keys) expect(await keyWorks(k.key)).toBe(true);

    const second = { currentPassword: "second long password 44", newPassword: "third long password 45", revokeApiKeys: true };
    expect(await expectJson(await call(person.caller, "/api/auth/password", { body: second }), 200, SignedOut)).toEqual({ signedOutSessions: 0, revokedApiKeys: 2 });
    for (const k of keys) expect(await keyWorks(k.key)).toBe(false);
    // The person is still signed in where they changed it, and can make new keys.
    expect((await createKey(person.caller, "read")).key).toMatch(/^cxk_/);
  });

  it("a wrong current password revokes nothing", async () => {
    const person = await join(site, "member", root);
    const key = await createKey(person.caller, "read");
    const res = await call(person.caller, "/api/auth/password", { body: { currentPassword: "not my password", newPassword: "whatever long password", revokeApiKeys: true } });
    expect(res.status).toBe(403);
    expect(await keyWorks(key.key)).toBe(true);
  });

  it("sign out everywhere keeps the keys unless asked; asked, it revokes them and nobody else's", async () => {
    const person = await join(site, "member", root);
    const bystander = await join(site, "member", root, "bystander");
    const theirKey = await createKey(bystander.caller, "read");
    const kept = await createKey(person.caller, "read");
    expect(await expectJson(await call(person.caller, "/api/auth/logout-all", { method: "POST" }), 200, SignedOut)).toEqual({ signedOutSessions: 1, revokedApiKeys: 0 });
    expect(await keyWorks(kept.key)).toBe(true);

    const again = await signIn(person.email, PASSWORD);
    const revoked = await call(again, "/api/auth/logout-all", { body: { revokeApiKeys: true } });
    expect(await expectJson(revoked, 200, SignedOut)).toEqual({ signedOutSessions: 1, revokedApiKeys: 1 });
    expect(await keyWorks(kept.key)).toBe(false);
    expect(await keyWorks(theirKey.key)).toBe(true);
  });

  it("refuses a malformed body and signs nobody out", async () => {
    const person = await join(site, "member", root);
    for (const body of [{ revokeApiKeys: "yes" }, { revokeApiKeys: true, everything: true }, "not json"]) {
      const res = await call(person.caller, "/api/auth/logout-all", { body });
      expect(res.status).toBe(400);
    }
    expect((await call(person.caller, "/api/auth/me")).status).toBe(200);
    expect((await call(ANONYMOUS, "/api/auth/logout-all", { method: "POST" })).status).toBe(401);
  });
});

describe("live pages are limited", () => {
  it(`to ${MAX_VIEWERS_PER_PERSON} a person on a site: one more is a 429 that opens nothing, others still open theirs, and a closed one frees a place`, async () => {
    const mine = await newSite();
    const member = await join(mine, "member", root);
    const read = await createKey(member.caller, "read");
    const other = await join(mine, "member", root, "other");
    const open: LiveSocket[] = [];
    // The person's sessions and keys count together.
    for (let i = 0; i < MAX_VIEWERS_PER_PERSON; i++) open.push(await watch(i % 2 ? read.caller : member.caller, mine));
    for (const caller of [member.caller, read.caller]) {
      const refused = await call(caller, `/api/sites/${mine}/live`, { headers: { Upgrade: "websocket" } });
      expect(refused.webSocket).toBeNull();
      expect(refused.status).toBe(429);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("too_many_viewers");
    }
    expect(await (await watch(other.caller, mine)).stillOpen()).toBe(true);
    for (const socket of open) expect(socket.closed).toBeNull();
    open[0]!.ws.close(1000, "done");
    await expect.poll(async () => {
      const res = await call(member.caller, `/api/sites/${mine}/live`, { headers: { Upgrade: "websocket" } });
      res.webSocket?.accept();
      res.webSocket?.close(1000, "done");
      return res.status;
    }).toBe(101);
  });
});
