import { describe, expect, it } from "vitest";
import { NodeCredentials, NodeListResponse, NodeView, ApiError, ActivityPage } from "../../protocol/api.ts";
import { api, freshSite, registerNode } from "./support.ts";

describe("node registry API", () => {
  it("registers a node, returns its token once, and lists it without the token", async () => {
    const site = freshSite();
    const creds = NodeCredentials.parse(await registerNode(site, { name: "Build 01", group: "gpu", tier: "sudo" }));
    expect(creds.id).toBe("build-01");
    expect(creds.token).toMatch(/^cxn_build-01_[0-9a-f]{64}$/);
    expect(creds.endpoint).toBe(`ws://hub.test/api/sites/${site}/connect`);
    // The ready commands name this hub and site and never hold the token: it goes in a file or is typed at a prompt.
    expect(creds.installCommand).toBe(`curl -fsSL http://hub.test/install.sh | sudo sh -s -- --endpoint http://hub.test/api/sites/${site} --tier sudo`);
    expect(creds.connectCommand).toBe(`cortex node connect --endpoint ${creds.endpoint} --tier sudo --token-file build-01.token`);

    const listed = NodeListResponse.parse(await (await api(`/api/sites/${site}/nodes`)).json());
    expect(listed.nodes).toHaveLength(1);
    expect(listed.nodes[0]).toMatchObject({ id: "build-01", name: "Build 01", group: "gpu", tier: "sudo", status: "disconnected" });
    expect(JSON.stringify(listed)).not.toContain(creds.token);
    expect(listed.nodes[0]!.tokenPrefix).toBe(`cxn_build-01_${creds.token.slice(13, 19)}…`);

    const shown = NodeView.parse(await (await api(`/api/sites/${site}/nodes/build-01`)).json());
    expect(shown.id).toBe("build-01");
  });

  it("makes ids unique when names collide and refuses a taken explicit id", async () => {
    const site = freshSite();
    const a = await registerNode(site, { name: "web" });
    const b = await registerNode(site, { name: "web" });
    expect(a.id).toBe("web");
    expect(b.id).toMatch(/^web-[0-9a-f]{4}$/);
    const dup = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "x", id: "web" }) });
    expect(dup.status).toBe(409);
    expect(ApiError.parse(await dup.json()).error.code).toBe("node_exists");
  });

  it("defaults the tier ceiling to unprivileged", async () => {
    const creds = await registerNode(freshSite(), { name: "plain" });
    expect(creds.tier).toBe("unprivileged");
  });

  it("refuses requests without a valid API key with 401 and changes nothing", async () => {
    const site = freshSite();
    const none = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "x" }) }, "");
    expect(none.status).toBe(401);
    const wrong = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "x" }) }, "wrong-key");
    expect(wrong.status).toBe(401);
    expect(ApiError.parse(await wrong.json()).error.message).toBe("invalid API key");
    const listed = NodeListResponse.parse(await (await api(`/api/sites/${site}/nodes`)).json());
    expect(listed.nodes).toHaveLength(0);
  });

  it("answers bad input with a clear 400 and no change", async () => {
    const site = freshSite();
    const malformed = await api(`/api/sites/${site}/nodes`, { method: "POST", body: "{not json" });
    expect(malformed.status).toBe(400);
    expect(ApiError.parse(await malformed.json()).error.code).toBe("invalid_json");

    const wrongTypes = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: 42, tier: "god" }) });
    expect(wrongTypes.status).toBe(400);
    const body = ApiError.parse(await wrongTypes.json());
    expect(body.error.issues?.map((i) => i.path).sort()).toEqual(["name", "tier"]);

    const badId = await api(`/api/sites/${site}/nodes`, { method: "POST", body: JSON.stringify({ name: "x", id: "../etc" }) });
    expect(badId.status).toBe(400);

    const badSite = await api(`/api/sites/Not_A_Site/nodes`);
    expect(badSite.status).toBe(400);

    const listed = NodeListResponse.parse(await (await api(`/api/sites/${site}/nodes`)).json());
    expect(listed.nodes).toHaveLength(0);
  });

  it("refuses oversize bodies with 413", async () => {
    const res = await api(`/api/sites/${freshSite()}/nodes`, { method: "POST", body: JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) }) });
    expect(res.status).toBe(413);
  });

  it("answers unknown nodes and routes with 404", async () => {
    const site = freshSite();
    expect((await api(`/api/sites/${site}/nodes/ghost`)).status).toBe(404);
    expect((await api(`/api/sites/${site}/nodes/ghost`, { method: "DELETE" })).status).toBe(404);
    expect((await api(`/api/sites/${site}/nodes/ghost/rekey`, { method: "POST" })).status).toBe(404);
    expect((await api(`/api/nope`)).status).toBe(404);
  });

  it("deregisters a node, keeps its history, and lets the id be registered again later", async () => {
    const site = freshSite();
    await registerNode(site, { name: "old-box" });
    const res = await api(`/api/sites/${site}/nodes/old-box`, { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(NodeView.parse(await res.json()).status).toBe("deregistered");
    expect((await api(`/api/sites/${site}/nodes/old-box`, { method: "DELETE" })).status).toBe(409);

    const activity = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?node=old-box`)).json());
    expect(activity.entries.map((e) => e.message)).toEqual([
      "node old-box deregistered by admin key",
      "node old-box registered by admin key (tier unprivileged)",
    ]);

    const again = await registerNode(site, { name: "old-box", id: "old-box", tier: "sudo" });
    expect(again.tier).toBe("sudo");
    const shown = NodeView.parse(await (await api(`/api/sites/${site}/nodes/old-box`)).json());
    expect(shown.status).toBe("disconnected");
  });

  it("pages the activity log with a cursor and filters by kind", async () => {
    const site = freshSite();
    for (let i = 0; i < 5; i++) await registerNode(site, { name: `n${i}` });
    const first = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?limit=2`)).json());
    expect(first.entries).toHaveLength(2);
    expect(first.nextBefore).not.toBeNull();
    const second = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?limit=10&before=${first.nextBefore}`)).json());
    expect(second.entries).toHaveLength(3);
    expect(second.nextBefore).toBeNull();
    const none = ActivityPage.parse(await (await api(`/api/sites/${site}/activity?kind=directive`)).json());
    expect(none.entries).toHaveLength(0);
    expect((await api(`/api/sites/${site}/activity?limit=abc`)).status).toBe(400);
  });
});
