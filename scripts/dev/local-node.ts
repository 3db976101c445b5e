import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod";
import { NodeCredentials, NodeView } from "../../protocol/api.ts";

/** The token of this machine's own node, kept beside the local hub's state so restarts reuse it. */
const SavedNode = z.object({ id: z.string(), token: z.string() });

export interface LocalNodeOptions {
  hubUrl: string;
  adminKey: string;
  stateDir: string;
  id: string;
  tier: "root" | "sudo" | "unprivileged";
}

async function call(opts: LocalNodeOptions, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${opts.hubUrl}/api/sites/default${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${opts.adminKey}`, "Content-Type": "application/json" },
  });
}

/** Returns a usable token for the local node, registering it when the hub does not know it (or it was removed). */
export async function ensureLocalNode(opts: LocalNodeOptions): Promise<{ id: string; token: string; registered: boolean }> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const file = join(opts.stateDir, "local-node.json");
  const saved = existsSync(file) ? SavedNode.safeParse(JSON.parse(readFileSync(file, "utf8"))) : null;
  if (saved?.success && saved.data.id === opts.id) {
    const res = await call(opts, `/nodes/${opts.id}`);
    if (res.ok && NodeView.parse(await res.json()).status !== "deregistered") return { ...saved.data, registered: false };
  }
  const existing = await call(opts, `/nodes/${opts.id}`);
  const live = existing.ok && NodeView.parse(await existing.json()).status !== "deregistered";
  const res = live
    ? await call(opts, `/nodes/${opts.id}/rekey`, { method: "POST" })
    : await call(opts, "/nodes", { method: "POST", body: JSON.stringify({ name: opts.id, id: opts.id, tier: opts.tier }) });
  if (!res.ok) throw new Error(`could not register the local node: ${res.status} ${await res.text()}`);
  const creds = NodeCredentials.parse(await res.json());
  writeFileSync(file, JSON.stringify({ id: creds.id, token: creds.token }), { mode: 0o600 });
  return { id: creds.id, token: creds.token, registered: true };
}
