import { constants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { ROOST_CHUNK_BYTES, RoostManifest } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import { FolderWalker, openIn, readFileIn, replaceFileIn, splitRelative } from "../sandbox/verified-dir.ts";
import type { VerifiedDir } from "../sandbox/verified-fs.ts";
import { readRange, sha256Hex } from "./chunk-hash.ts";
import type { DeployFolders } from "./deploy-layout.ts";
import type { KeptVersion } from "./deploy-state.ts";

/** Where chunks and manifests come from when the machine lacks them: the hub, with the node's own token. */
export interface ChunkSource {
  manifest(roost: string, version: number, signal: AbortSignal): Promise<Uint8Array>;
  chunk(hash: string, signal: AbortSignal): Promise<Uint8Array>;
}

/** O_NONBLOCK: a FIFO put where a chunk should be must not hang the deployment on open. */
const READ_ONLY = constants.O_RDONLY | constants.O_NONBLOCK;

interface LocalCopy {
  /** The file's path relative to versions/, starting with its version folder. */
  file: string;
  offset: number;
}

/**
 * Every chunk a deployment needs, from the cheapest place that has it: the download cache (chunks fetched by an
 * earlier, interrupted attempt), the files of the versions already on the machine, and only then the source.
 * Whatever the place, the bytes are hashed before they are used; a local copy that does not match is passed over.
 * The cache is a folder of the deployment (`.roost/cache`), owned by the user deployments run as and closed to
 * others; since nothing read from it is used unhashed, whatever that user (or a crash) leaves there can cost a
 * download, never a wrong byte.
 */
export class ChunkSupply {
  downloadedBytes = 0;
  downloadedChunks = 0;
  private readonly local = new Map<string, LocalCopy[]>();
  private readonly kept: FolderWalker;

  constructor(
    private readonly folders: DeployFolders,
    private readonly source: ChunkSource | null,
    private readonly signal: AbortSignal,
  ) {
    this.kept = new FolderWalker(folders.versions);
  }

  /** Learns which chunks the kept versions hold, from their manifests; a manifest that cannot be read is skipped. */
  async indexKept(kept: readonly KeptVersion[]): Promise<void> {
    for (const k of kept) {
      const manifest = await readKeptManifest(this.folders, k);
      if (!manifest) continue;
      for (const entry of manifest.files) {
        if (entry.type !== "file") continue;
        entry.chunks.forEach((hash, i) => {
          const copies = this.local.get(hash) ?? [];
          copies.push({ file: `${k.folder}/${entry.path}`, offset: i * ROOST_CHUNK_BYTES });
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
    await replaceFileIn(this.folders.cache, hash, data, 0o600);
    return data.byteLength;
  }

  /** The chunk's bytes, verified. */
  async get(hash: string, size: number): Promise<Uint8Array> {
    const cached = await this.fromCache(hash, size);
    if (cached) return cached;
    for (const copy of this.local.get(hash) ?? []) {
      const { folder, name } = splitRelative(copy.file);
      const data = await this.kept.within(folder, (dir) => readVerified(dir, name, copy.offset, size, hash)).catch(() => null);
      if (data) return data;
    }
    return this.download(hash, size);
  }

  async close(): Promise<void> {
    await this.kept.close();
  }

  private fromCache(hash: string, size: number): Promise<Uint8Array | null> {
    return readVerified(this.folders.cache, hash, 0, size, hash);
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

/** The bytes at `offset` of `name` in `dir` if they are exactly `size` long and hash to `hash`; null otherwise (missing, changed, a link). */
async function readVerified(dir: VerifiedDir, name: string, offset: number, size: number, hash: string): Promise<Uint8Array | null> {
  let handle: FileHandle;
  try {
    handle = await openIn(dir, name, READ_ONLY);
  } catch {
    return null;
  }
  try {
    if (!(await handle.stat()).isFile()) return null;
    const data = await readRange(handle, offset, size);
    return data.byteLength === size && sha256Hex(data) === hash ? data : null;
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

/** The manifest kept for a version folder, if it is there and still the one the state file names. */
export async function readKeptManifest(folders: DeployFolders, kept: KeptVersion): Promise<RoostManifest | null> {
  const bytes = await readFileIn(folders.manifests, manifestName(kept.folder)).catch(() => null);
  if (!bytes || sha256Hex(bytes) !== kept.manifestSha256) return null;
  const parsed = RoostManifest.safeParse(safeJson(bytes.toString("utf8")));
  return parsed.success ? parsed.data : null;
}

export function manifestName(folder: string): string {
  return `${folder}.json`;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
