import type { CommitRequest, RoostView, VersionView } from "../../protocol/roost-api.ts";
import { chunkSizes, diffManifests, RoostManifest, totalsOf, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";
import type { ActivityLog } from "./activity-log.ts";
import { manifestKey } from "./roost-keys.ts";

interface VersionRow {
  roost: string;
  version: number;
  state: string;
  created_at: number;
  created_by: string;
  message: string;
  files: number;
  bytes: number;
  chunks: number;
  unique_chunks: number;
  new_chunks: number;
  new_bytes: number;
  added: number;
  changed: number;
  removed: number;
  manifest_sha256: string;
  [key: string]: SqlStorageValue;
}

function versionView(r: VersionRow): VersionView {
  return {
    roost: r.roost,
    version: r.version,
    createdAt: r.created_at,
    createdBy: r.created_by,
    message: r.message,
    files: r.files,
    bytes: r.bytes,
    chunks: r.chunks,
    uniqueChunks: r.unique_chunks,
    newChunks: r.new_chunks,
    newBytes: r.new_bytes,
    added: r.added,
    changed: r.changed,
    removed: r.removed,
    manifestSha256: r.manifest_sha256,
  };
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** How many chunk hashes one SQL statement checks at a time (SQLite's bound-parameter limit is 100 here). */
const HASHES_PER_QUERY = 90;

/**
 * The site's roosts and their versions: the index of chunks the site holds (the bytes are in R2 under the site's
 * prefix), and each version's manifest, written to R2 once and never changed.
 */
export class RoostVersions {
  constructor(
    private readonly sql: SqlStorage,
    private readonly bucket: R2Bucket,
    private readonly activity: ActivityLog,
  ) {}

  /** The hashes, among `hashes`, that this site has no chunk for. */
  missing(hashes: readonly string[]): string[] {
    const unique = [...new Set(hashes)];
    const have = new Set<string>();
    for (let i = 0; i < unique.length; i += HASHES_PER_QUERY) {
      const part = unique.slice(i, i + HASHES_PER_QUERY);
      const rows = this.sql.exec<{ hash: string }>(`SELECT hash FROM roost_chunks WHERE hash IN (${part.map(() => "?").join(", ")})`, ...part);
      for (const r of rows) have.add(r.hash);
    }
    return unique.filter((h) => !have.has(h));
  }

  hasChunk(hash: string): boolean {
    return this.sql.exec("SELECT 1 FROM roost_chunks WHERE hash = ?", hash).toArray().length > 0;
  }

  /** Records a chunk whose bytes were verified and stored; false when it was known already. */
  recordChunk(hash: string, size: number, now = Date.now()): boolean {
    return this.sql.exec("INSERT OR IGNORE INTO roost_chunks (hash, size, stored_at) VALUES (?, ?, ?)", hash, size, now).rowsWritten > 0;
  }

  listRoosts(): RoostView[] {
    return this.sql
      .exec<{ name: string; created_at: number; created_by: string; updated_at: number; latest_version: number | null; versions: number }>(
        `SELECT r.*, (SELECT COUNT(*) FROM roost_versions v WHERE v.roost = r.name AND v.state = 'ready') AS versions
         FROM roosts r ORDER BY r.name`,
      )
      .toArray()
      .map((r) => ({ name: r.name, createdAt: r.created_at, createdBy: r.created_by, updatedAt: r.updated_at, latestVersion: r.latest_version, versions: r.versions }));
  }

  listVersions(roost: string): HubResult<VersionView[]> {
    if (!this.roostExists(roost)) return fail(404, "roost_not_found", `roost ${roost} not found`);
    const rows = this.sql.exec<VersionRow>("SELECT * FROM roost_versions WHERE roost = ? AND state = 'ready' ORDER BY version DESC LIMIT 500", roost).toArray();
    return ok(rows.map(versionView));
  }

  version(roost: string, version: number): HubResult<VersionView> {
    const row = this.sql.exec<VersionRow>("SELECT * FROM roost_versions WHERE roost = ? AND version = ? AND state = 'ready'", roost, version).toArray()[0];
    if (row) return ok(versionView(row));
    return this.roostExists(roost) ? fail(404, "version_not_found", `roost ${roost} has no version ${version}`) : fail(404, "roost_not_found", `roost ${roost} not found`);
  }

  /** A stored manifest, parsed; null when R2 no longer has it. */
  async manifest(site: string, roost: string, version: number): Promise<RoostManifest | null> {
    const object = await this.bucket.get(manifestKey(site, roost, version));
    if (!object) return null;
    return RoostManifest.parse(await object.json());
  }

  /**
   * Makes the next version of `roost` from a checked file list. Every chunk it names must already be in the site
   * with the size the files imply. The version number is taken synchronously (no other commit can get it), the
   * manifest is written to R2, and only then does the version become visible; a failed write leaves no trace.
   */
  async commit(site: string, roost: string, input: CommitRequest & { files: ManifestEntry[] }, actor: string): Promise<HubResult<VersionView>> {
    const sizes = chunkSizes(input.files);
    const absent: string[] = [];
    const hashes = [...sizes.keys()];
    const known = new Map<string, number>();
    for (let i = 0; i < hashes.length; i += HASHES_PER_QUERY) {
      const part = hashes.slice(i, i + HASHES_PER_QUERY);
      for (const r of this.sql.exec<{ hash: string; size: number }>(`SELECT hash, size FROM roost_chunks WHERE hash IN (${part.map(() => "?").join(", ")})`, ...part)) {
        known.set(r.hash, r.size);
      }
    }
    for (const [hash, size] of sizes) if (known.get(hash) !== size) absent.push(hash);
    if (absent.length) {
      return fail(409, "chunks_missing", `${absent.length} chunk(s) of this version are not on the hub (or have another size), e.g. ${absent.slice(0, 3).join(", ")}; upload them first`);
    }

    const now = Date.now();
    const totals = totalsOf(input.files);
    this.sql.exec(
      "INSERT INTO roosts (name, created_at, created_by, updated_at, latest_version) VALUES (?, ?, ?, ?, NULL) ON CONFLICT(name) DO NOTHING",
      roost,
      now,
      actor,
      now,
    );
    const version = (this.sql.exec<{ v: number | null }>("SELECT MAX(version) AS v FROM roost_versions WHERE roost = ?", roost).one().v ?? 0) + 1;
    let newChunks = 0;
    let newBytes = 0;
    for (const [hash, size] of sizes) {
      if (this.sql.exec("SELECT 1 FROM roost_version_chunks WHERE hash = ? LIMIT 1", hash).toArray().length === 0) {
        newChunks += 1;
        newBytes += size;
      }
      this.sql.exec("INSERT OR IGNORE INTO roost_version_chunks (hash, roost, version) VALUES (?, ?, ?)", hash, roost, version);
    }
    this.sql.exec(
      `INSERT INTO roost_versions (roost, version, state, created_at, created_by, message, files, bytes, chunks, unique_chunks,
         new_chunks, new_bytes, added, changed, removed, manifest_sha256)
       VALUES (?, ?, 'writing', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, '')`,
      roost,
      version,
      now,
      actor,
      input.message ?? "",
      totals.files,
      totals.bytes,
      totals.chunks,
      totals.uniqueChunks,
      newChunks,
      newBytes,
    );
    const previous = this.sql.exec<{ latest_version: number | null }>("SELECT latest_version FROM roosts WHERE name = ?", roost).one().latest_version;

    const manifest: RoostManifest = { format: 1, roost, version, createdAt: now, createdBy: actor, message: input.message ?? "", files: input.files, totals };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest));
    let sha: string;
    let diff;
    try {
      sha = await sha256Hex(bytes);
      await this.bucket.put(manifestKey(site, roost, version), bytes, { sha256: sha, httpMetadata: { contentType: "application/json" } });
      const before = previous === null ? null : await this.manifest(site, roost, previous);
      diff = diffManifests(before?.files ?? [], input.files);
    } catch (err) {
      this.sql.exec("DELETE FROM roost_versions WHERE roost = ? AND version = ?", roost, version);
      this.sql.exec("DELETE FROM roost_version_chunks WHERE roost = ? AND version = ?", roost, version);
      console.error("roost manifest write failed", err instanceof Error ? err.message : String(err));
      return fail(503, "storage_unavailable", `could not store the manifest of ${roost}@${version}; try again`);
    }
    this.sql.exec(
      "UPDATE roost_versions SET state = 'ready', manifest_sha256 = ?, added = ?, changed = ?, removed = ? WHERE roost = ? AND version = ?",
      sha,
      diff.added.length,
      diff.changed.length,
      diff.removed.length,
      roost,
      version,
    );
    this.sql.exec("UPDATE roosts SET latest_version = MAX(COALESCE(latest_version, 0), ?), updated_at = ? WHERE name = ?", version, Date.now(), roost);
    const view = this.version(roost, version);
    if (view.ok) {
      const v = view.value;
      this.activity.append({
        kind: "deployment",
        actor,
        message: `roost ${roost}@${version} pushed by ${actor}: ${v.files} files, ${v.added} added, ${v.changed} changed, ${v.removed} removed, ${v.newChunks} new chunk(s)`,
        data: { roost, version, bytes: v.bytes, newBytes: v.newBytes },
      });
    }
    return view;
  }

  private roostExists(roost: string): boolean {
    return this.sql.exec("SELECT 1 FROM roosts WHERE name = ?", roost).toArray().length > 0;
  }
}
