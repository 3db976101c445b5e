import * as z from "zod";

/**
 * A roost version as the hub stores it and every agent rebuilds it: a list of entries (files, folders, symlinks)
 * whose file contents are named by the SHA-256 of their chunks. The same schema is parsed by the CLI before it
 * commits, by the hub before it stores, and by the agent before it writes a single byte, so a manifest that could
 * lead a write outside the version folder is refused at every one of them.
 */

/** Files are cut into chunks of exactly this size (the last one of a file may be shorter). */
export const ROOST_CHUNK_BYTES = 4 * 1024 * 1024;
/** Entries in one manifest; a folder with more is refused before anything is uploaded. */
export const MAX_MANIFEST_ENTRIES = 100_000;
/** The manifest's JSON as committed; kept well under the 32 MiB a Durable Object RPC call may carry. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** Hashes asked about in one "which chunks are missing" request. */
export const MAX_CHUNK_QUERY = 10_000;
const MAX_PATH_BYTES = 4096;
const MAX_COMPONENT_BYTES = 255;
/** Symlinks followed while resolving one target, as Linux allows (ELOOP beyond it). */
const MAX_LINK_HOPS = 40;

export const ChunkHash = z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256");
export type ChunkHash = z.infer<typeof ChunkHash>;

/** Roost names appear in URLs, storage keys and folder names: the same small alphabet as node ids. */
export const RoostName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, "roost name must be 1-63 lowercase letters, digits or '-', not starting or ending with '-'");
export type RoostName = z.infer<typeof RoostName>;

export const VersionNumber = z.number().int().positive().max(1_000_000_000);

const utf8 = new TextEncoder();

/** Why `path` cannot name an entry inside a version folder, or null when it can. */
export function relativePathProblem(path: string): string | null {
  if (path.length === 0) return "path is empty";
  if (utf8.encode(path).byteLength > MAX_PATH_BYTES) return `path is longer than ${MAX_PATH_BYTES} bytes`;
  // Control characters include NUL, which would cut the path short in every system call.
  if (/[\u0000-\u001f\u007f]/.test(path)) return "path contains a control character";
  // A backslash is a separator on Windows agents: "a\\..\\..\\x" must not mean something else there.
  if (path.includes("\\")) return "path contains a backslash";
  if (path.startsWith("/")) return "path is absolute";
  for (const part of path.split("/")) {
    if (part === "") return "path has an empty component (leading, trailing or doubled '/')";
    if (part === "." || part === "..") return `path has a '${part}' component`;
    if (utf8.encode(part).byteLength > MAX_COMPONENT_BYTES) return `a component is longer than ${MAX_COMPONENT_BYTES} bytes`;
  }
  return null;
}

export const RoostPath = z.string().superRefine((path, ctx) => {
  const problem = relativePathProblem(path);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Permission bits only: set-user-id, set-group-id and sticky bits are never carried to a machine. */
const Mode = z.number().int().min(0).max(0o777);

/**
 * A file as a version's listing shows it to people: without its chunk hashes. A file under one chunk's size has one
 * chunk, whose hash is a hash of the whole file, so a reader could confirm guesses of a small secret file offline.
 */
export const ListedFileEntry = z.object({
  type: z.literal("file"),
  path: RoostPath,
  mode: Mode,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

export const FileEntry = ListedFileEntry.extend({ chunks: z.array(ChunkHash) }).refine((f) => f.chunks.length === chunkCount(f.size), {
  message: "the number of chunks does not match the size",
  path: ["chunks"],
});

export const DirEntry = z.object({ type: z.literal("dir"), path: RoostPath, mode: Mode });

export const SymlinkEntry = z.object({
  type: z.literal("symlink"),
  path: RoostPath,
  target: z
    .string()
    .min(1)
    .max(MAX_PATH_BYTES)
    .refine((t) => !/[\u0000]/.test(t), "target contains NUL")
    .refine((t) => !t.startsWith("/") && !/^[A-Za-z]:[\\/]/.test(t), "target is absolute")
    .refine((t) => !t.includes("\\"), "target contains a backslash"),
});

export const ManifestEntry = z.discriminatedUnion("type", [FileEntry, DirEntry, SymlinkEntry]);
export const ListedEntry = z.discriminatedUnion("type", [ListedFileEntry, DirEntry, SymlinkEntry]);
export type ListedEntry = z.infer<typeof ListedEntry>;

/** An entry as a listing shows it (see `ListedFileEntry`). */
export function listedEntry(entry: ManifestEntry): ListedEntry {
  if (entry.type !== "file") return entry;
  const { chunks: _chunks, ...listed } = entry;
  return listed;
}
export type ManifestEntry = z.infer<typeof ManifestEntry>;
export type FileEntry = z.infer<typeof FileEntry>;
export type SymlinkEntry = z.infer<typeof SymlinkEntry>;

export function chunkCount(size: number): number {
  return Math.ceil(size / ROOST_CHUNK_BYTES);
}

function parentOf(path: string): string | null {
  const cut = path.lastIndexOf("/");
  return cut < 0 ? null : path.slice(0, cut);
}

/**
 * Follows a symlink's target through the version's own tree, the way the kernel would on the machine: components
 * that are symlinks of the manifest are followed from their own folder, `..` climbs from where a link really
 * leads. Returns why the target would leave the version folder, or null when it stays inside (or names something
 * that does not exist, which the kernel would refuse to follow anyway).
 */
export function symlinkEscape(linkPath: string, entries: ReadonlyMap<string, ManifestEntry>): string | null {
  let hops = 0;
  const walk = (target: string, base: string[]): string[] | string => {
    let at = [...base];
    for (const part of target.split("/")) {
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (at.length === 0) return "its target leads out of the version folder";
        at.pop();
        continue;
      }
      const entry = entries.get([...at, part].join("/"));
      if (entry?.type !== "symlink") {
        at.push(part);
        continue;
      }
      if (++hops > MAX_LINK_HOPS) return "its target is a symlink loop";
      const resolved = walk(entry.target, at);
      if (typeof resolved === "string") return resolved;
      at = resolved;
    }
    return at;
  };
  const link = entries.get(linkPath);
  if (link?.type !== "symlink") return null;
  const start = parentOf(linkPath)?.split("/") ?? [];
  const outcome = walk(link.target, start);
  return typeof outcome === "string" ? outcome : null;
}

/** Problems of a whole entry list that no single entry shows: duplicates, entries under a file or a symlink, escaping links. */
export function treeProblems(files: readonly ManifestEntry[]): { index: number; message: string }[] {
  const problems: { index: number; message: string }[] = [];
  const byPath = new Map<string, ManifestEntry>();
  files.forEach((entry, index) => {
    if (byPath.has(entry.path)) problems.push({ index, message: `duplicate path ${entry.path}` });
    else byPath.set(entry.path, entry);
  });
  files.forEach((entry, index) => {
    // Writing under a symlink would write wherever it points; under a file, nowhere sensible.
    for (let parent = parentOf(entry.path); parent !== null; parent = parentOf(parent)) {
      const above = byPath.get(parent);
      if (above && above.type !== "dir") {
        problems.push({ index, message: `${entry.path} lies under ${parent}, which is a ${above.type}` });
        break;
      }
    }
    if (entry.type === "symlink") {
      const escape = symlinkEscape(entry.path, byPath);
      if (escape) problems.push({ index, message: `symlink ${entry.path} -> ${entry.target}: ${escape}` });
    }
  });
  return problems;
}

/** The entries of a version, checked one by one and as a tree. */
export const ManifestFiles = z
  .array(ManifestEntry)
  .max(MAX_MANIFEST_ENTRIES)
  .superRefine((files, ctx) => {
    for (const problem of treeProblems(files).slice(0, 20)) {
      ctx.addIssue({ code: "custom", path: [problem.index, "path"], message: problem.message });
    }
  });

export const ManifestTotals = z.object({
  files: z.number().int().nonnegative(),
  dirs: z.number().int().nonnegative(),
  symlinks: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** Chunk references, counting a chunk once per place it is used. */
  chunks: z.number().int().nonnegative(),
  /** Distinct chunks: what a machine with nothing on it downloads. */
  uniqueChunks: z.number().int().nonnegative(),
  uniqueBytes: z.number().int().nonnegative(),
});
export type ManifestTotals = z.infer<typeof ManifestTotals>;

/** A version as stored by the hub (one JSON object in R2) and fetched by agents. Never changed once written. */
export const RoostManifest = z.object({
  format: z.literal(1),
  roost: RoostName,
  version: VersionNumber,
  createdAt: z.number().int(),
  createdBy: z.string(),
  message: z.string(),
  files: ManifestFiles,
  totals: ManifestTotals,
});
export type RoostManifest = z.infer<typeof RoostManifest>;

/** Sizes of each distinct chunk of a version, as the files say (the last chunk of a file may be short). */
export function chunkSizes(files: readonly ManifestEntry[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const f of files) {
    if (f.type !== "file") continue;
    f.chunks.forEach((hash, i) => sizes.set(hash, Math.min(ROOST_CHUNK_BYTES, f.size - i * ROOST_CHUNK_BYTES)));
  }
  return sizes;
}

export function totalsOf(files: readonly ManifestEntry[]): ManifestTotals {
  const totals = { files: 0, dirs: 0, symlinks: 0, bytes: 0, chunks: 0, uniqueChunks: 0, uniqueBytes: 0 };
  for (const f of files) {
    if (f.type === "file") {
      totals.files += 1;
      totals.bytes += f.size;
      totals.chunks += f.chunks.length;
    } else if (f.type === "dir") totals.dirs += 1;
    else totals.symlinks += 1;
  }
  const sizes = chunkSizes(files);
  totals.uniqueChunks = sizes.size;
  for (const size of sizes.values()) totals.uniqueBytes += size;
  return totals;
}

export interface DiffLine {
  path: string;
  type: ManifestEntry["type"];
  /** Size for files, 0 otherwise. */
  size: number;
}

export interface ManifestDiff {
  added: DiffLine[];
  removed: DiffLine[];
  /** Entries whose content, mode, type or target differs. */
  changed: (DiffLine & { before: DiffLine })[];
}

function same(a: ManifestEntry, b: ManifestEntry): boolean {
  if (a.type !== b.type || a.path !== b.path) return false;
  if (a.type === "file" && b.type === "file") return a.mode === b.mode && a.size === b.size && a.chunks.join() === b.chunks.join();
  if (a.type === "dir" && b.type === "dir") return a.mode === b.mode;
  if (a.type === "symlink" && b.type === "symlink") return a.target === b.target;
  return false;
}

function line(e: ManifestEntry): DiffLine {
  return { path: e.path, type: e.type, size: e.type === "file" ? e.size : 0 };
}

/** What changed from `before` to `after`, each list in path order. */
export function diffManifests(before: readonly ManifestEntry[], after: readonly ManifestEntry[]): ManifestDiff {
  const old = new Map(before.map((e) => [e.path, e]));
  const diff: ManifestDiff = { added: [], removed: [], changed: [] };
  for (const e of after) {
    const prior = old.get(e.path);
    if (!prior) diff.added.push(line(e));
    else if (!same(prior, e)) diff.changed.push({ ...line(e), before: line(prior) });
    old.delete(e.path);
  }
  for (const e of old.values()) diff.removed.push(line(e));
  const byPath = (a: DiffLine, b: DiffLine) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  diff.added.sort(byPath);
  diff.removed.sort(byPath);
  diff.changed.sort(byPath);
  return diff;
}
