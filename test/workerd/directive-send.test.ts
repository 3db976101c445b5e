import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ActivityPage, DirectiveEvent, DirectiveView, type DirectiveRequest } from "../../protocol/api.ts";
import type { SiteHub } from "../../durable-objects/site-hub/site-hub.ts";
import type { Requester } from "../../durable-objects/site-hub/requester.ts";
import { watch } from "./live-viewer.ts";
import { api, connectNode, type FakeAgent, freshSite, registerNode } from "./support.ts";

/**
 * A single directive is recorded already sent, in the turn that sends it (one row written, no update). At-most-once
 * still holds both ways: what the node may have received is recorded before it leaves and never sent again, and one
 * that could not be given to the node is never reported as sent, not by its record, its events or the activity log.
 */

const REQUESTER: Requester = { actor: "admin key", userId: null, confined: false };
const READ: DirectiveRequest = { action: "read", params: { path: "/etc/hostname" } };

function siteHub(site: string) {
  return env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
}

async function nodeOnline(site: string, id: string): Promise<FakeAgent> {
  return connectNode(site, await registerNode(site, { name: id, id, tier: "root" }));
}

/** The events of a directive's stream from its object (server-sent events: their `data:` lines). */
async function events(stream: ReadableStream<Uint8Array>): Promise<DirectiveEvent[]> {
  const text = await new Response(stream).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => DirectiveEvent.parse(JSON.parse(l.slice(6))));
}

async function directive(site: string, id: string): Promise<DirectiveView> {
  return DirectiveView.parse(await (await api(`/api/sites/${site}/directives/${id}`)).json());
}

async function entriesOf(site: string, directiveId: string) {
  const page = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?limit=500`)).json());
  return page.entries.filter((e) => e.directiveId === directiveId);
}

/** A directive that could not be given to its node: failed as offline, never sent, its one entry saying so. */
async function expectNeverSent(site: string, id: string, seen: DirectiveEvent[]): Promise<void> {
  expect(seen.map((e) => e.event)).toEqual(["result"]);
  const view = await directive(site, id);
  expect(view).toMatchObject({ status: "failed", errorCode: "offline", sentAt: null, startedAt: null });
  expect(view.endedAt).not.toBeNull();
  const entries = await entriesOf(site, id);
  expect(entries).toHaveLength(1);
  expect(entries[0]!.message).toMatch(/: not sent: the machine is offline$/);
  expect(entries[0]!.updatedAt).toBeNull();
}

describe("sending a single directive", () => {
  it("is recorded as sent, with its deadline, before the node can see it, and sent once", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const viewer = await watch(site);
    await viewer.snapshot();
    const pending = api(`/api/sites/${site}/nodes/n1/directives`, { method: "POST", body: JSON.stringify(READ) });
    const d = await agent.next("directive");
    const recorded = await directive(site, d.id);
    expect(recorded).toMatchObject({ status: "sent", startedAt: null, endedAt: null });
    expect(recorded.sentAt).toBe(recorded.createdAt);
    // The activity entry is written once, as the directive was when it left: started.
    const first = await viewer.entry((e) => e.directiveId === d.id);
    expect(first.message).toMatch(/: started$/);
    agent.send({ type: "result", directiveId: d.id, success: true, output: "host\n", durationMs: 1 });
    expect(DirectiveView.parse(await (await pending).json())).toMatchObject({ id: d.id, status: "done", output: "host\n" });
    await new Promise((r) => setTimeout(r, 50));
    expect(agent.take("directive")).toHaveLength(1);
    const pushed = viewer.activity().filter((e) => e.directiveId === d.id);
    expect(pushed[0]!.message).toMatch(/: started$/);
    expect(pushed.slice(1).map((e) => e.message)).toEqual(pushed.slice(1).map(() => expect.stringMatching(/: done in \d+ ms$/)));
  });

  it("a send that fails ends the directive as offline in the same turn: never reported sent, never sent later", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const viewer = await watch(site);
    await viewer.snapshot();
    const opened = await runInDurableObject(siteHub(site), async (hub: SiteHub, state) => {
      // The node's socket is still there (the node counts as online) but takes nothing: its send throws.
      const node = state.getWebSockets().filter((ws) => (ws.deserializeAttachment() as { nodeId?: string } | null)?.nodeId === "n1");
      expect(node).toHaveLength(1);
      node[0]!.send = () => {
        throw new Error("the socket went away");
      };
      try {
        return await hub.runDirective("n1", READ, REQUESTER);
      } finally {
        delete (node[0] as Partial<WebSocket>).send;
      }
    });
    if (!opened.ok) throw new Error(opened.error.message);
    const { directiveId, stream } = opened.value;
    await expectNeverSent(site, directiveId, await events(stream));
    const pushed = await viewer.entry((e) => e.directiveId === directiveId);
    expect(pushed.message).toMatch(/: not sent: the machine is offline$/);
    expect(viewer.activity().filter((e) => e.directiveId === directiveId)).toHaveLength(1);

    // The node is still connected: the next directive goes, and the failed one is never sent after it.
    const pending = api(`/api/sites/${site}/nodes/n1/directives`, { method: "POST", body: JSON.stringify(READ) });
    const d = await agent.next("directive");
    expect(d.id).not.toBe(directiveId);
    agent.send({ type: "result", directiveId: d.id, success: true, output: "host\n", durationMs: 1 });
    expect(DirectiveView.parse(await (await pending).json()).status).toBe("done");
    await new Promise((r) => setTimeout(r, 50));
    expect(agent.take("directive").map((m) => m.id)).toEqual([d.id]);
    expect((await directive(site, directiveId)).status).toBe("failed");
  });

  it("a directive whose record cannot be written is neither sent nor waited for: its caller hears the error", async () => {
    const site = freshSite();
    const agent = await nodeOnline(site, "n1");
    const left = await runInDurableObject(siteHub(site), async (hub: SiteHub) => {
      const dispatcher = hub["directives"];
      const store = dispatcher["store"];
      const streams = dispatcher["streams"];
      const insertOne = store.insertOne;
      store.insertOne = () => {
        throw new Error("SQLITE_FULL: database or disk is full");
      };
      try {
        await expect(dispatcher.runToEnd("n1", READ, REQUESTER)).rejects.toThrow(/SQLITE_FULL/);
        await expect(dispatcher.runOne("n1", READ, REQUESTER)).rejects.toThrow(/SQLITE_FULL/);
      } finally {
        store.insertOne = insertOne;
      }
      return { waiters: streams["waiters"].size, listeners: streams["listeners"].size };
    });
    expect(left).toEqual({ waiters: 0, listeners: 0 });
    await new Promise((r) => setTimeout(r, 50));
    expect(agent.take("directive")).toEqual([]);
  });

  it("a node that drops between its record and its send: offline, and nothing is sent when it comes back", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "n1", id: "n1", tier: "root" });
    const agent = await connectNode(site, creds);
    const ended = await runInDurableObject(siteHub(site), async (hub: SiteHub, state) => {
      // The hub closes the node's socket in the same turn, before the directive: its close event has not run yet, so
      // the node still counts as online at admission and the send is what finds it gone.
      for (const ws of state.getWebSockets()) ws.close(1001, "going away");
      return hub.runDirectiveToEnd("n1", READ, REQUESTER);
    });
    if (!ended.ok || !ended.value) throw new Error("the directive did not end");
    const id = ended.value.id;
    await expectNeverSent(site, id, [{ event: "result", directive: ended.value }]);
    expect(ended.value).toMatchObject({ status: "failed", errorCode: "offline", sentAt: null });
    await agent.waitClose();
    expect(agent.take("directive")).toHaveLength(0);

    const again = await connectNode(site, creds);
    await new Promise((r) => setTimeout(r, 50));
    expect(again.take("directive")).toHaveLength(0);
    expect((await directive(site, id)).status).toBe("failed");
  });
});
