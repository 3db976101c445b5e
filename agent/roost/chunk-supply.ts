import { constants } from "node:fs";
import { open, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOST_CHUNK_BYTES, RoostManifest } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import { readRange, sha256Hex } from "./chunk-hash.ts";
import type { DeployLayout } from "./deploy-layout.ts";
import type { KeptVersion } from "./deploy-state.ts";

/** Where chunks and manifests come from when the machine lacks them: the hub, with the node's own token. */
export interface ChunkSource {
  manifest(roost: string, version: number, signal: AbortSignal): Promise<Uint8Array>;
  chunk(hash: string, signal: AbortSignal): Promise<Uint8Array>;
}

interface LocalCopy {
  file: string;
  offset: number;
}

/** Opened without following a symlink in the last component: a swapped-in link is not read through. */
const READ_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/**
 * Every chunk a deployment needs, from the cheapest place that has it: the download cache (chunks fetched by an
 * earlier, interrupted attempt), the files of the versions already on the machine, and only then the hub. Whatever
 * the place, the bytes are hashed before they are used; a local copy that does not match is passed over.
 */
export class ChunkSupply {
  downloadedBytes = 0;
  downloadedChunks = 0;
  private readonly local = new Map<string, LocalCopy[]>();

  constructor(
    private readonly layout: DeployLayout,
    private readonly source: ChunkSource | null,
    private readonly signal: AbortSignal,
  ) {}

  /** Learns which chunks the kept versions hold, from their manifests; a manifest that cannot be read is skipped. */
  async indexKept(kept: readonly KeptVersion[]): Promise<void> {
    for (const k of kept) {
      const manifest = await readKeptManifest(this.layout, k);
      if (!manifest) continue;
      const base = this.layout.folder(k.folder);
      for (const entry of manifest.files) {
        if (entry.type !== "file") continue;
        entry.chunks.forEach((hash, i) => {
          const copies = this.local.get(hash) ?? [];
          copies.push({ file: join(base, entry.path), offset: i * ROOST_CHUNK_BYTES });
          this.local.set(hash, copies);
        });
      }
    }
  }

  /** Whether the chunk is expected on the machine already (it is checked when read). */
  async isLocal(hash: string, size: number): Promise<boolean> {
    if (this.local.has(hash)) return true;
    return (await this.fromCache(hash, size)) !== null;
  }

  /** Downloads a chunk into the cache unless a good copy is there already; returns the bytes fetched. */
  async prefetch(hash: string, size: number): Promise<number> {
    if ((await this.fromCache(hash, size)) !== null) return 0;
    const data = await this.download(hash, size);
    const temp = `${this.layout.cached(hash)}.${process.pid}.tmp`;
    await writeFile(temp, data, { mode: 0o600 });
    await rename(temp, this.layout.cached(hash));
    return data.byteLength;
  }

  /** The chunk's bytes, verified. */
  async get(hash: string, size: number): Promise<Uint8Array> {
    const cached = await this.fromCache(hash, size);
    if (cached) return cached;
    for (const copy of this.local.get(hash) ?? []) {
      const data = await readVerified(copy.file, copy.offset, size, hash);
      if (data) return data;
    }
    return this.download(hash, size);
  }

  private fromCache(hash: string, size: number): Promise<Uint8Array | null> {
    return readVerified(this.layout.cached(hash), 0, size, hash);
  }

  private async download(hash: string, size: number): Promise<Uint8Array> {
    if (!this.source) throw new ActionError("not_found", `chunk ${hash} is not on this machine, and a rollback does not download`);
    const data = await this.source.chunk(hash, this.signal);
    if (data.byteLength !== size || sha256Hex(data) !== hash) {
      throw new ActionError("exec_failed", `the hub sent chunk ${hash.slice(0, 12)}… with other bytes than its hash names; nothing was switched`);
    }
    this.downloadedBytes += data.byteLength;
    this.downloadedChunks += 1;
    return data;
  }
}

/** The bytes at `offset` if they are exactly `size` long and hash to `hash`; null otherwise (missing, changed, a link). */
async function readVerified(file: string, offset: number, size: number, hash: string): Promise<Uint8Array | null> {
  let handle;
  try {
    handle = await open(file, READ_NO_FOLLOW);
  } catch {
    return null;
  }
  try {
    const data = await readRange(handle, offset, size);
    return data.byteLength === size && sha256Hex(data) === hash ? data : null;
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

/** The manifest kept for a version folder, if it is there and still the one the state file names. */
export async function readKeptManifest(layout: DeployLayout, kept: KeptVersion): Promise<RoostManifest | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(layout.manifestOf(kept.folder));
  } catch {
    return null;
  }
  if (sha256Hex(bytes) !== kept.manifestSha256) return null;
  const parsed = RoostManifest.safeParse(safeJson(bytes.toString("utf8")));
  return parsed.success ? parsed.data : null;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
