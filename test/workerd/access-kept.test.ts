import { env, runInDurableObject } from "cloudflare:test";
import { createLocalJWKSet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DirectiveView } from "../../protocol/api.ts";
import { SiteAccess } from "../../durable-objects/site-hub/site-access.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import type { Env } from "../../worker/env.ts";
import { createApp } from "../../worker/app.ts";
import { call, createKey, join, newSite, refusal, rootSession, type Caller, type Person } from "./accounts-support.ts";
import { BASE, connectNode, registerNode } from "./support.ts";

/**
 * A directive's request may be authorised with the site's access answer this isolate kept from an earlier request
 * (worker/auth/site-access-cache.ts): the site object confirms its version in the directive's own call. These tests
 * play the attacker against that: one app (so one cache) warmed with a person's key, then their access changes and
 * the very next request must get what a fresh answer gives, never what the kept one said.
 */

let root: Caller;
let site: string;
let accessCalls = 0;

/** The hub's app in this isolate, its SITE_HUB counting how often a request asks a site object for `access`. */
function countingHub() {
  const hubs = env.SITE_HUB;
  const counting = {
    idFromName: (name: string) => hubs.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = hubs.get(id);
      return new Proxy(stub, {
        get(target, prop) {
          if (prop === "access") {
            return (...args: Parameters<typeof target.access>) => {
              accessCalls += 1;
              return target.access(...args);
            };
          }
          const methods = target as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
          return (...args: unknown[]) => methods[prop]!(...args);
        },
      });
    },
  };
  const app = createApp({ accessKeys: () => createLocalJWKSet({ keys: [] }) });
  const bindings: Env = { ...env, SITE_HUB: counting as unknown as Env["SITE_HUB"] };
  return async (key: string, body: unknown): Promise<Response> =>
    app.request(
      `${BASE}/api/sites/${site}/nodes/box/directives`,
      { method: "POST", headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" }, body: JSON.stringify(body) },
      bindings,
    );
}

const hub = countingHub();
const readable = { action: "read", params: { path: "/var/log/syslog" } };
const unreadable = { action: "read", params: { path: "/etc/shadow" } };
const shell = { action: "bash", params: { command: "id" } };

/** Runs a request and says how many times it asked a site object for `access`. */
async function counted(fn: () => Promise<Response>): Promise<{ res: Response; asked: number }> {
  const before = accessCalls;
  const res = await fn();
  return { res, asked: accessCalls - before };
}

async function done(res: Response): Promise<DirectiveView> {
  expect(res.status).toBe(200);
  const view = DirectiveView.parse(await res.json());
  expect(view.status).toBe("done");
  return view;
}

/** A person of `role` with an admin-scoped key, whose access answer this isolate has kept. */
async function warmed(role: "admin" | "member"): Promise<{ person: Person; key: { caller: Caller; id: string; key: string } }> {
  const person = await join(site, role, root);
  const key = await createKey(person.caller, "admin");
  await done(await hub(key.key, readable));
  const warm = await counted(() => hub(key.key, readable));
  await done(warm.res);
  expect(warm.asked).toBe(0);
  return { person, key };
}

beforeAll(async () => {
  root = await rootSession();
  site = await newSite();
  expect((await call(root, `/api/sites/${site}/settings`, { method: "PATCH", body: { readablePaths: ["/var/log"] } })).status).toBe(200);
  const agent = await connectNode(site, await registerNode(site, { name: "box", id: "box", tier: "root" }));
  agent.ws.addEventListener("message", (e) => {
    const msg = JSON.parse(String(e.data)) as { type: string; id?: string };
    if (msg.type === "directive") agent.send({ type: "result", directiveId: msg.id, success: true, output: "ok\n", durationMs: 1, exitCode: 0 });
  });
});

describe("a kept access answer", () => {
  it("saves a warm directive request its call for access, and only that", async () => {
    const { key } = await warmed("admin");
    const again = await counted(() => hub(key.key, unreadable));
    expect((await done(again.res)).output).toBe("ok\n");
    expect(again.asked).toBe(0);
  });

  it("does not outlive a demotion: the next request is confined and may not run a shell", async () => {
    const { person, key } = await warmed("admin");
    await done(await hub(key.key, unreadable));
    expect((await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "PATCH", body: { role: "member" } })).status).toBe(200);
    // authorize() allows a read to both roles: only the site object's version check can catch the kept admin role.
    const confined = await counted(() => hub(key.key, unreadable));
    expect((await refusal(confined.res, 403)).code).toBe("not_readable");
    expect(confined.asked).toBe(1);
    expect((await refusal(await hub(key.key, shell), 403)).code).toBe("action_not_allowed");
    await done(await hub(key.key, readable));
  });

  it("does not outlive a promotion either: a refusal is never taken from it", async () => {
    const { person, key } = await warmed("member");
    expect((await refusal(await hub(key.key, shell), 403)).code).toBe("action_not_allowed");
    expect((await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "PATCH", body: { role: "admin" } })).status).toBe(200);
    await done(await hub(key.key, shell));
    await done(await hub(key.key, unreadable));
  });

  it("does not outlive a removal from the site", async () => {
    const { person, key } = await warmed("admin");
    expect((await call(root, `/api/sites/${site}/members/${person.userId}`, { method: "DELETE" })).status).toBeLessThan(300);
    expect((await refusal(await hub(key.key, readable), 403)).code).toBe("no_site_access");
    expect((await refusal(await hub(key.key, unreadable), 403)).code).toBe("no_site_access");
  });

  it("never stands in for the key itself: a revoked key is refused on its next request", async () => {
    const { person, key } = await warmed("admin");
    expect((await call(person.caller, `/api/auth/api-keys/${key.id}`, { method: "DELETE" })).status).toBeLessThan(300);
    expect((await refusal(await hub(key.key, readable), 401)).code).toBe("invalid_api_key");
  });

  it("is versioned per object instance: a restarted site object never confirms an answer read before", async () => {
    await runInDurableObject(env.SITE_HUB.get(env.SITE_HUB.idFromName(site)), async (_hub: SiteHub, state) => {
      const links = { legacy: () => Promise.reject(new Error("not asked")), accessChanged: async () => undefined };
      const before = new SiteAccess(state.storage.sql, links);
      const restarted = new SiteAccess(state.storage.sql, links);
      expect(restarted.version).not.toBe(before.version);
      const read = before.version;
      await before.setMember(site, { userId: "u-nobody", role: "member", addedAt: Date.now() });
      expect(before.version).not.toBe(read);
      await before.removeMember(site, "u-nobody");
    });
  });
});
