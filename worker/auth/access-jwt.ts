import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose";
import { Email } from "../../protocol/accounts.ts";
import type { Env } from "../env.ts";

/** The header Cloudflare Access adds to every request it lets through. */
export const ACCESS_JWT_HEADER = "Cf-Access-Jwt-Assertion";

/** Where the keys that sign a team's Access tokens come from: the team's JWKS endpoint, or (in tests) local keys. */
export type AccessKeySource = (teamDomain: string) => JWTVerifyGetKey;

const remoteSets = new Map<string, JWTVerifyGetKey>();

/** The team's published keys, fetched once per isolate and refreshed by jose when a token names an unknown key. */
export const remoteAccessKeys: AccessKeySource = (teamDomain) => {
  let set = remoteSets.get(teamDomain);
  if (!set) {
    set = createRemoteJWKSet(new URL(`https://${teamDomain}/cdn-cgi/access/certs`));
    remoteSets.set(teamDomain, set);
  }
  return set;
};

export interface AccessConfig {
  teamDomain: string;
  audience: string;
}

/** Single sign-on is on when both the team domain and the application's audience tag are configured. */
export function accessConfig(env: Env): AccessConfig | null {
  const teamDomain = env.CF_ACCESS_TEAM_DOMAIN?.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const audience = env.CF_ACCESS_AUD?.trim();
  return teamDomain && audience ? { teamDomain, audience } : null;
}

export type AccessIdentity = { ok: true; email: string } | { ok: false; message: string };

/** Verifies an Access token's signature, issuer, audience and expiry, and returns the email it vouches for. */
export async function verifyAccessJwt(token: string, config: AccessConfig, keys: AccessKeySource): Promise<AccessIdentity> {
  try {
    const { payload } = await jwtVerify(token, keys(config.teamDomain), {
      issuer: `https://${config.teamDomain}`,
      audience: config.audience,
      algorithms: ["RS256"],
    });
    const email = Email.safeParse(payload.email);
    if (!email.success) return { ok: false, message: "the Cloudflare Access token names no email (a service token?)" };
    return { ok: true, email: email.data };
  } catch (err) {
    return { ok: false, message: `invalid Cloudflare Access token: ${err instanceof Error ? err.message : String(err)}` };
  }
}
