import { env } from "cloudflare:test";
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { MeResponse } from "../../protocol/accounts.ts";
import { ApiError } from "../../protocol/api.ts";
import { createApp } from "../../worker/app.ts";
import { ANONYMOUS, call, join, PASSWORD, ROOT, rootSession } from "./accounts-support.ts";
import { BASE } from "./support.ts";

/**
 * Single sign-on through Cloudflare Access, with the team's signing keys replaced by keys made here: the app is
 * built with a local key set and called with Access configured in its environment.
 */
const TEAM = "cortex-test.cloudflareaccess.com";
const AUD = "0123456789abcdef-application-aud-tag";

let signingKey: CryptoKey;
let strangerKey: CryptoKey;
let publicJwk: JWK;

beforeAll(async () => {
  await rootSession();
  const pair = await generateKeyPair("RS256");
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: "team-key-1", alg: "RS256" };
  strangerKey = (await generateKeyPair("RS256")).privateKey;
});

function token(claims: { email?: string; aud?: string; iss?: string; exp?: number }, key: CryptoKey = signingKey): Promise<string> {
  const { email = ROOT.email, aud = AUD, iss = `https://${TEAM}`, exp = Math.floor(Date.now() / 1000) + 600 } = claims;
  return new SignJWT({ email, type: "app" }).setProtectedHeader({ alg: "RS256", kid: "team-key-1" }).setIssuer(iss).setAudience(aud).setIssuedAt().setExpirationTime(exp).sign(key);
}

function hub(configured = true) {
  const app = createApp({ accessKeys: () => createLocalJWKSet({ keys: [publicJwk] }) });
  const access = configured ? { CF_ACCESS_TEAM_DOMAIN: TEAM, CF_ACCESS_AUD: AUD } : {};
  return (path: string, headers: Record<string, string>, init: { method?: string; body?: unknown } = {}) =>
    app.request(
      `${BASE}${path}`,
      {
        method: init.method ?? "GET",
        headers: { ...headers, ...(init.body ? { "Content-Type": "application/json" } : {}) },
        body: init.body ? JSON.stringify(init.body) : undefined,
      },
      { ...env, ...access },
    );
}

async function errorOf(res: Response): Promise<ApiError["error"]> {
  return ApiError.parse(await res.json()).error;
}

describe("single sign-on with Cloudflare Access", () => {
  it("signs an existing user in by the email in a valid token, on every request", async () => {
    const res = await hub()("/api/auth/me", { "Cf-Access-Jwt-Assertion": await token({}) });
    expect(res.status).toBe(200);
    const me = MeResponse.parse(await res.json());
    expect(me.user.email).toBe(ROOT.email);
    expect(me.credential).toEqual({ kind: "sso", scope: null, keyName: null });
    expect((await hub()("/api/sites/default/nodes", { "Cf-Access-Jwt-Assertion": await token({ email: "ROOT@Example.com" }) })).status).toBe(200);
  });

  it("is never blocked by wrong passwords, even from the address that locked itself out with them", async () => {
    const person = await join("default", "member", await rootSession());
    const from = { "CF-Connecting-IP": "203.0.113.88" };
    for (let i = 0; i < 25; i++) {
      await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: `wrong ${i}` }, headers: from });
    }
    expect((await call(ANONYMOUS, "/api/auth/login", { body: { email: person.email, password: PASSWORD }, headers: from })).status).toBe(429);
    const res = await hub()("/api/auth/me", { "Cf-Access-Jwt-Assertion": await token({ email: person.email }), ...from });
    expect(MeResponse.parse(await res.json()).user.email).toBe(person.email);
  });

  it("signs in existing users only", async () => {
    const res = await hub()("/api/auth/me", { "Cf-Access-Jwt-Assertion": await token({ email: "stranger@example.com" }) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toBe("no account for stranger@example.com on this hub; ask an admin for an invite");
  });

  it("refuses forged, expired, other-audience and other-issuer tokens with 401", async () => {
    const bad = [
      await token({}, strangerKey),
      await token({ exp: Math.floor(Date.now() / 1000) - 60 }),
      await token({ aud: "another-application" }),
      await token({ iss: "https://other-team.cloudflareaccess.com" }),
      "not.a.jwt",
    ];
    for (const assertion of bad) {
      const res = await hub()("/api/auth/me", { "Cf-Access-Jwt-Assertion": assertion });
      expect(res.status, assertion.slice(0, 20)).toBe(401);
      const error = await errorOf(res);
      expect(error.code).toBe("invalid_access_token");
      expect(error.message).toMatch(/^invalid Cloudflare Access token: /);
    }
  });

  it("ignores the header when single sign-on is not configured", async () => {
    const res = await hub(false)("/api/auth/me", { "Cf-Access-Jwt-Assertion": await token({}) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe("unauthorized");
  });

  it("needs the hub's own Origin for a change, like a session cookie", async () => {
    const assertion = await token({});
    const bare = await hub()("/api/sites", { "Cf-Access-Jwt-Assertion": assertion }, { method: "POST", body: { id: "via-sso", name: "Via SSO" } });
    expect(bare.status).toBe(403);
    expect((await errorOf(bare)).code).toBe("origin_required");
    const same = await hub()("/api/sites", { "Cf-Access-Jwt-Assertion": assertion, Origin: BASE }, { method: "POST", body: { id: "via-sso", name: "Via SSO" } });
    expect(same.status).toBe(201);
  });

  it("takes over from a session cookie that has expired", async () => {
    const res = await hub()("/api/auth/me", { Cookie: `__Host-cortex_session=cxs_${"0".repeat(64)}`, "Cf-Access-Jwt-Assertion": await token({}) });
    expect(res.status).toBe(200);
  });
});
