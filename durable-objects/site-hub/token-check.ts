import { nodeIdOfToken } from "../../protocol/node-token.ts";
import { hashesEqual, sha256Hex } from "../shared/secrets.ts";
import type { NodeRecord, NodeRegistry } from "./node-registry.ts";

const UNKNOWN_NODE_HASH = "0".repeat(64);

type TokenRefusal = { ok: false; status: 401 | 410; code: "unauthorized" | "deregistered"; message: string };

export type TokenCheck = { ok: true; record: NodeRecord } | TokenRefusal;

/** The answer to a token no node of the site holds, or to any token on a site that was never created. */
export const INVALID_NODE_TOKEN: TokenRefusal = { ok: false, status: 401, code: "unauthorized", message: "invalid or revoked node token" };

/**
 * Verifies a node token against the stored hash. The hash is computed before the row is read so that nothing
 * can change the row between the read and the comparison (a rekey landing during the await).
 */
export async function checkNodeToken(registry: NodeRegistry, token: string): Promise<TokenCheck> {
  const presented = await sha256Hex(token);
  const nodeId = nodeIdOfToken(token);
  const record = nodeId ? registry.get(nodeId) : null;
  // Compare against a stand-in when the node is unknown so both answers take the same time.
  const matches = hashesEqual(presented, record?.tokenHash ?? UNKNOWN_NODE_HASH);
  if (!record || !matches) return INVALID_NODE_TOKEN;
  if (record.view.status === "deregistered") {
    return { ok: false, status: 410, code: "deregistered", message: `node ${record.view.id} was deregistered` };
  }
  return { ok: true, record };
}
