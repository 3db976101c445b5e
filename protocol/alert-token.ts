import { SiteId } from "./identifiers.ts";

/**
 * A site's Alertmanager token looks like `cxa_<site>_<64 hex>`: the site in it lets the hub find the one stored hash
 * to compare against (and refuse the token on every other site's routes); the secret part is 256 random bits.
 */
const TOKEN_RE = /^cxa_([a-z0-9-]{1,63})_([0-9a-f]{64})$/;

export function siteOfAlertToken(token: string): string | null {
  const m = TOKEN_RE.exec(token);
  if (!m || !SiteId.safeParse(m[1]).success) return null;
  return m[1]!;
}

export function formatAlertToken(site: string, secretHex: string): string {
  return `cxa_${site}_${secretHex}`;
}

/** What may be shown of a token: enough to tell two apart, too little to use. */
export function alertTokenPrefix(token: string): string {
  const m = TOKEN_RE.exec(token);
  return m ? `cxa_${m[1]}_${m[2]!.slice(0, 6)}…` : "";
}
