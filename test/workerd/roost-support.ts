import { SELF } from "cloudflare:test";
import { ActionName } from "../../protocol/directives.ts";
import { VersionView } from "../../protocol/roost-api.ts";
import { ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { api, BASE, connectNode, registerNode, type FakeAgent } from "./support.ts";

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Deterministic bytes that differ by seed. */
export function bytesOf(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A file of the given content, cut into chunks as the CLI does. */
export async function fileOf(path: string, content: Uint8Array, mode = 0o644): Promise<{ entry: ManifestEntry; chunks: Map<string, Uint8Array> }> {
  const chunks = new Map<string, Uint8Array>();
  const hashes: string[] = [];
  for (let at = 0; at < content.byteLength; at += ROOST_CHUNK_BYTES) {
    const piece = content.subarray(at, at + ROOST_CHUNK_BYTES);
    const hash = await sha256Hex(piece);
    hashes.push(hash);
    chunks.set(hash, piece);
  }
  return { entry: { type: "file", path, mode, size: content.byteLength, chunks: hashes }, chunks };
}

export function putChunk(site: string, hash: string, body: Uint8Array, key?: string): Promise<Response> {
  return api(`/api/sites/${site}/roost/chunks/${hash}`, { method: "PUT", body, headers: { "Content-Type": "application/octet-stream" } }, key);
}

/** Uploads the files' chunks and commits them as the roost's next version. */
export async function pushVersion(site: string, roost: string, files: { entry: ManifestEntry; chunks: Map<string, Uint8Array> }[], message = ""): Promise<VersionView> {
  for (const f of files) {
    for (const [hash, bytes] of f.chunks) {
      const res = await putChunk(site, hash, bytes);
      if (res.status !== 201 && res.status !== 200) throw new Error(`upload ${hash}: ${res.status} ${await res.text()}`);
    }
  }
  const res = await api(`/api/sites/${site}/roosts/${roost}/versions`, { method: "POST", body: JSON.stringify({ message, files: files.map((f) => f.entry) }) });
  if (res.status !== 201) throw new Error(`commit: ${res.status} ${await res.text()}`);
  return VersionView.parse(await res.json());
}

/** A node whose fake agent says it can do every action, roost ones included. */
export async function roostNode(site: string, name: string, tier: "root" | "sudo" | "unprivileged" = "root", group?: string): Promise<{ token: string; agent: FakeAgent }> {
  const creds = await registerNode(site, { name, id: name, tier, ...(group ? { group } : {}) });
  const agent = await connectNode(site, creds, { capabilities: [...ActionName.options] });
  return { token: creds.token, agent };
}

/** What a node downloads, with its own token. */
export function nodeGet(site: string, path: string, token: string): Promise<Response> {
  return SELF.fetch(`${BASE}/api/sites/${site}/roost/node/${path}`, { headers: { Authorization: `Bearer ${token}` } });
}
