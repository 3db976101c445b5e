import { NodeId } from "./identifiers.ts";

/**
 * Node tokens look like `cxn_<nodeId>_<64 hex>`. Carrying the node id lets the agent connect with only a token
 * and lets the hub find the one stored hash to compare against; the secret part is 256 random bits.
 */
const TOKEN_RE = /^cxn_([a-z0-9-]{1,63})_([0-9a-f]{64})$/;

export function nodeIdOfToken(token: string): string | null {
  const m = TOKEN_RE.exec(token);
  if (!m || !NodeId.safeParse(m[1]).success) return null;
  return m[1]!;
}

export function formatNodeToken(nodeId: string, secretHex: string): string {
  return `cxn_${nodeId}_${secretHex}`;
}

/** What may be shown of a token: enough to tell two apart, too little to use. */
export function tokenPrefix(token: string): string {
  const m = TOKEN_RE.exec(token);
  return m ? `cxn_${m[1]}_${m[2]!.slice(0, 6)}…` : "";
}
