import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AGENT_RELEASE_PATH, AgentRelease, INSTALL_SCRIPT_PATH } from "../../protocol/agent-release.ts";
import { ApiError } from "../../protocol/api.ts";
import { CONTENT_SECURITY_POLICY } from "../../worker/http/security-headers.ts";
import { ANONYMOUS, call, join, newSite, refusal, rootSession } from "./accounts-support.ts";
import { BASE } from "./support.ts";

/** As curl asks: no navigation headers, so the dashboard's page fallback does not apply. */
function asset(path: string): Promise<Response> {
  return env.ASSETS.fetch(`${BASE}${path}`);
}

async function hex(data: ArrayBuffer): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", data))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function release(): Promise<AgentRelease> {
  return AgentRelease.parse(await (await asset(AGENT_RELEASE_PATH)).json());
}

describe("the agent the hub serves", () => {
  it("serves the install script as plain text, revalidated on every use, carrying the bundle's path and SHA-256", async () => {
    const res = await asset(INSTALL_SCRIPT_PATH);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("Cache-Control")).toBe("no-cache");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Security-Policy")).toBe(CONTENT_SECURITY_POLICY);
    const script = await res.text();
    const current = await release();
    expect(script.startsWith("#!/bin/sh\n")).toBe(true);
    expect(script).toContain(`AGENT_SHA256='${current.sha256}'\n`);
    expect(script).toContain(`AGENT_PATH='${current.bundle}'\n`);
    expect(script).toContain(`AGENT_VERSION='${current.version}'\n`);
    expect(script).not.toMatch(/@[A-Z_]+@/);
  });

  it("serves the bundle the release names, byte for byte, cacheable for good under a name that changes with it", async () => {
    const current = await release();
    expect(current.version).toMatch(/^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
    expect(current.bundle).toBe(`/agent/cortex-${current.version.split("+")[1]}.mjs`);
    expect((await asset(AGENT_RELEASE_PATH)).headers.get("Cache-Control")).toBe("no-cache");
    const res = await asset(current.bundle);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    const body = await res.arrayBuffer();
    expect(body.byteLength).toBe(current.bytes);
    expect(await hex(body)).toBe(current.sha256);
    expect(new TextDecoder().decode(body.slice(0, 20))).toBe("#!/usr/bin/env node\n");
  });

  it("runs /agent/* through the Worker, without sign-in: the release and the current bundle, and a 404 saying what to do for any other", async () => {
    const current = await release();
    const bundle = await SELF.fetch(`${BASE}${current.bundle}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("Content-Type")).toBe("text/javascript; charset=utf-8");
    expect(bundle.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(await hex(await bundle.arrayBuffer())).toBe(current.sha256);
    expect(AgentRelease.parse(await (await SELF.fetch(`${BASE}${AGENT_RELEASE_PATH}`)).json())).toEqual(current);
    for (const path of ["/agent/cortex-000000000000.mjs", "/agent/", "/agent/install.sh"]) {
      const stale = await SELF.fetch(`${BASE}${path}`, { headers: { Accept: "text/html", "Sec-Fetch-Mode": "navigate" } });
      expect(stale.status, path).toBe(404);
      const error = ApiError.parse(await stale.json()).error;
      expect(error.code).toBe("agent_not_found");
      expect(error.message).toContain(`this hub serves ${current.bundle} (agent ${current.version}); fetch install.sh again`);
    }
  });

  it("tells signed-in members of a site which agent it serves; strangers are refused", async () => {
    const site = await newSite();
    const root = await rootSession();
    const member = await join(site, "member", root);
    const res = await call(member.caller, `/api/sites/${site}/agent`);
    expect(res.status).toBe(200);
    expect(AgentRelease.parse(await res.json())).toEqual(await release());
    expect((await refusal(await call(ANONYMOUS, `/api/sites/${site}/agent`), 401)).code).toBe("unauthorized");
    const other = await newSite();
    expect((await call(member.caller, `/api/sites/${other}/agent`)).status).toBe(403);
  });
});
