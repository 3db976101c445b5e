import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { totalsOf, type ManifestEntry, type RoostManifest } from "../../protocol/roost-manifest.ts";
import type { ChunkSource } from "../../agent/roost/chunk-supply.ts";
import { HashCache } from "../../agent/roost/hash-cache.ts";
import { scanFolder } from "../../agent/roost/scan-folder.ts";
import { readRange } from "../../agent/roost/chunk-hash.ts";
import { open } from "node:fs/promises";

export const MiB = 1024 * 1024;

/** Temporary folders of one test file, removed by `cleanup`. */
export class Scratch {
  private readonly dirs: string[] = [];

  dir(prefix = "cortex-roost-"): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Deterministic bytes that differ by seed (fast enough for a few MiB). */
export function bytesOf(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function writeFiles(root: string, files: Record<string, Buffer | string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A version as the hub would store it: the manifest bytes and their hash. */
export interface BuiltVersion {
  manifest: RoostManifest;
  bytes: Buffer;
  sha: string;
}

export function buildVersion(roost: string, version: number, files: ManifestEntry[]): BuiltVersion {
  const manifest: RoostManifest = { format: 1, roost, version, createdAt: Date.now(), createdBy: "test", message: "", files, totals: totalsOf(files) };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return { manifest, bytes, sha: sha256(bytes) };
}

/**
 * A stand-in for the hub's node routes: manifests and chunks from memory, every request counted, with knobs to
 * corrupt a chunk or to break off after a number of chunks (an interrupted download).
 */
export class MemorySource implements ChunkSource {
  readonly chunks = new Map<string, Buffer>();
  readonly manifests = new Map<string, Buffer>();
  readonly requested: string[] = [];
  corrupt = new Set<string>();
  failAfter = Number.POSITIVE_INFINITY;

  /** Scans a folder as `cortex roost push` does and keeps its chunks; returns the version. */
  async push(folder: string, roost: string, version: number): Promise<BuiltVersion> {
    const scan = await scanFolder(folder, { cache: new HashCache(null, folder) });
    for (const [hash, src] of scan.sources) {
      const handle = await open(src.path, "r");
      this.chunks.set(hash, Buffer.from(await readRange(handle, src.offset, src.size)));
      await handle.close();
    }
    return this.add(buildVersion(roost, version, scan.files));
  }

  add(built: BuiltVersion): BuiltVersion {
    this.manifests.set(`${built.manifest.roost}@${built.manifest.version}`, built.bytes);
    return built;
  }

  async manifest(roost: string, version: number): Promise<Uint8Array> {
    const bytes = this.manifests.get(`${roost}@${version}`);
    if (!bytes) throw new Error(`no manifest ${roost}@${version}`);
    return bytes;
  }

  async chunk(hash: string): Promise<Uint8Array> {
    if (this.requested.length >= this.failAfter) throw new Error("connection reset (test)");
    this.requested.push(hash);
    const data = this.chunks.get(hash);
    if (!data) throw new Error(`no chunk ${hash}`);
    if (!this.corrupt.has(hash)) return data;
    const bad = Buffer.from(data);
    bad[0]! ^= 0xff;
    return bad;
  }
}

export async function readText(path: string): Promise<string> {
  return readFile(path, "utf8");
}
