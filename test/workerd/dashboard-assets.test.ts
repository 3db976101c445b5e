import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../protocol/api.ts";
import { CONTENT_SECURITY_POLICY } from "../../worker/http/security-headers.ts";
import { BASE } from "./support.ts";

const NAVIGATE = { Accept: "text/html", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document" };

/**
 * The asset server as Cloudflare runs it in front of the Worker (SELF reaches the Worker itself). Which paths skip
 * it for the Worker (`run_worker_first`) is checked end to end under wrangler dev.
 */
function asset(path: string, headers: Record<string, string> = NAVIGATE): Promise<Response> {
  return env.ASSETS.fetch(`${BASE}${path}`, { headers });
}

describe("the dashboard's static assets", () => {
  it("serves index.html for client routes with the strict CSP and security headers", async () => {
    for (const path of ["/", "/machines", "/machines/some-node", "/logs", "/settings"]) {
      const res = await asset(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Type"), path).toContain("text/html");
      const html = await res.text();
      expect(html).toContain('<div id="app">');
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
      expect(res.headers.get("Content-Security-Policy"), path).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    }
  });

  it("serves the hashed bundles it links, cacheable for good", async () => {
    const html = await (await asset("/")).text();
    const script = /src="(\/assets\/app-[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/assets\/style-[^"]+\.css)"/.exec(html)?.[1];
    expect(script && style).toBeTruthy();
    const js = await asset(script!, {});
    expect(js.status).toBe(200);
    expect(js.headers.get("Content-Type")).toContain("javascript");
    expect(js.headers.get("Cache-Control")).toContain("immutable");
    expect((await asset(style!, {})).headers.get("Content-Type")).toContain("text/css");
  });

  it("answers unknown API paths from the Worker as JSON 404s with the API's security headers", async () => {
    const res = await SELF.fetch(`${BASE}/api/nope`, { headers: NAVIGATE });
    expect(res.status).toBe(404);
    expect(ApiError.parse(await res.json()).error.code).toBe("not_found");
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'none'; frame-ancestors 'none'");
  });
});
