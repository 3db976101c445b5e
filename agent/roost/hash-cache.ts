import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as z from "zod";
import { ChunkHash } from "../../protocol/roost-manifest.ts";

const CachedFile = z.object({
  size: z.number(),
  mtimeMs: z.number(),
  ctimeMs: z.number(),
  ino: z.number(),
  chunks: z.array(ChunkHash),
});
type CachedFile = z.infer<typeof CachedFile>;

const CacheFile = z.object({ root: z.string(), files: z.record(z.string(), CachedFile) });

export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
}

/**
 * Chunk hashes of the files of one folder from its last push, so the next push re-reads only files whose size,
 * times or inode changed (a 20 GB folder with one changed file is hashed in seconds, not minutes). A file whose
 * identity matches is trusted as it was hashed; anything else is hashed again. The cache is only ever a shortcut:
 * the hub verifies every uploaded chunk itself.
 */
export class HashCache {
  private readonly previous = new Map<string, CachedFile>();
  private readonly next = new Map<string, CachedFile>();
  private readonly path: string | null;

  constructor(
    cacheDir: string | null,
    private readonly root: string,
  ) {
    this.path = cacheDir ? join(cacheDir, `${createHash("sha256").update(root).digest("hex").slice(0, 32)}.json`) : null;
    if (!this.path) return;
    try {
      const parsed = CacheFile.safeParse(JSON.parse(readFileSync(this.path, "utf8")));
      if (parsed.success && parsed.data.root === root) for (const [p, f] of Object.entries(parsed.data.files)) this.previous.set(p, f);
    } catch {
      // No cache yet, or an unreadable one: everything is hashed.
    }
  }

  lookup(path: string, id: FileIdentity): string[] | null {
    const hit = this.previous.get(path);
    if (!hit || hit.size !== id.size || hit.mtimeMs !== id.mtimeMs || hit.ctimeMs !== id.ctimeMs || hit.ino !== id.ino) return null;
    return hit.chunks;
  }

  remember(path: string, id: FileIdentity, chunks: string[]): void {
    this.next.set(path, { ...id, chunks });
  }

  /** Keeps what this scan saw (files gone since are dropped), written whole or not at all. */
  save(): void {
    if (!this.path) return;
    try {
      mkdirSync(join(this.path, ".."), { recursive: true, mode: 0o700 });
      const temp = `${this.path}.${process.pid}.tmp`;
      writeFileSync(temp, JSON.stringify({ root: this.root, files: Object.fromEntries(this.next) }), { mode: 0o600 });
      renameSync(temp, this.path);
    } catch {
      // A cache that cannot be written only costs time on the next push.
    }
  }
}
