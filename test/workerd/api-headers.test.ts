import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { API_SECURITY_HEADERS } from "../../worker/http/security-headers.ts";
import { api, BASE, connectNode, freshSite, registerNode } from "./support.ts";

function expectApiHeaders(res: Response): void {
  for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) expect(res.headers.get(name), name).toBe(value);
}

/** Every way a Worker response is made carries the API's security headers: built in the Worker, streamed, relayed. */
describe("API security headers", () => {
  it("are on JSON the Worker builds, on its errors, and on a refused request", async () => {
    expectApiHeaders(await SELF.fetch(`${BASE}/healthz`));
    const site = freshSite();
    const listed = await api(`/api/sites/${site}/nodes`);
    expect(listed.status).toBe(200);
    expectApiHeaders(listed);
    const unauthenticated = await SELF.fetch(`${BASE}/api/sites/${site}/nodes`);
    expect(unauthenticated.status).toBe(401);
    expectApiHeaders(unauthenticated);
    const invalid = await api(`/api/sites/${site}/nodes/n1/directives`, { method: "POST", body: "{not json" });
    expect(invalid.status).toBe(400);
    expectApiHeaders(invalid);
  });

  it("are on an event stream and on a response relayed from a Durable Object", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "n1", tier: "root" });
    const agent = await connectNode(site, creds);
    const pending = api(`/api/sites/${site}/nodes/n1/directives`, { method: "POST", body: JSON.stringify({ action: "bash", params: { command: "true" } }), headers: { Accept: "text/event-stream" } });
    const d = await agent.next("directive");
    agent.send({ type: "result", directiveId: d.id, success: true, output: "", durationMs: 1, exitCode: 0 });
    const stream = await pending;
    expect(stream.headers.get("Content-Type")).toContain("text/event-stream");
    expectApiHeaders(stream);
    await stream.text();
    // The site object answers a connect that is not a WebSocket upgrade itself; its response's headers are immutable.
    const relayed = await SELF.fetch(`${BASE}/api/sites/${site}/connect`);
    expect(relayed.status).toBeGreaterThanOrEqual(400);
    expectApiHeaders(relayed);
  });
});
