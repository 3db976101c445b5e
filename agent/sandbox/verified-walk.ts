import { constants, type Dirent } from "node:fs";
import { lstat, open, readdir, readlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { PathPolicy } from "./path-policy.ts";
import { childPath } from "./verified-fs.ts";
import { compileGlob } from "./glob-matcher.ts";
import { VCS_DIRS } from "../actions/file-listing.ts";



const LINUX = process.platform === "linux";
const O_PATH = 0o10000000;

export interface VerifiedDir {
  handle: FileHandle;
  real: string;
}

/** A regular file found by the walk, inside a folder whose descriptor is still open while the file is handled. */
export interface WalkedFile {
  dir: VerifiedDir;
  name: string;
  real: string;
}

type Kind = "file" | "directory" | "other";

async function kindOf(dir: VerifiedDir, entry: Dirent): Promise<Kind> {
  if (entry.isSymbolicLink()) return "other";
  if (entry.isFile()) return "file";
  if (entry.isDirectory()) return "directory";
  if (entry.isBlockDevice() || entry.isCharacterDevice() || entry.isFIFO() || entry.isSocket()) return "other";
  // DT_UNKNOWN (some filesystems): ask without following a symlink.
  try {
    const info = await lstat(childPath(dir, entry.name));
    return info.isFile() ? "file" : info.isDirectory() ? "directory" : "other";
  } catch {
    return "other";
  }
}

/** A subfolder opened without following a symlink, kept only if it is where its parent says and the policy allows it. */
async function openSubdir(dir: VerifiedDir, name: string, policy: PathPolicy): Promise<VerifiedDir | null> {
  const expected = join(dir.real, name);
  if (!policy.allows(expected)) return null;
  let handle: FileHandle;
  try {
    handle = await open(childPath(dir, name), (LINUX ? O_PATH : constants.O_RDONLY) | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  const real = LINUX ? await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null) : expected;
  if (real !== expected) {
    await handle.close();
    return null;
  }
  return { handle, real };
}

/**
 * Files under a verified folder whose path relative to it matches `pattern`, in path order (as ripgrep's
 * `--sort path`), never following a symlink, never entering a VCS folder or a folder the policy refuses, each
 * folder reopened by descriptor so that one swapped for a symlink mid-walk is skipped rather than followed.
 */
export async function* walkFiles(root: VerifiedDir, pattern: string, policy: PathPolicy, signal: AbortSignal): AsyncGenerator<WalkedFile> {
  const matches = await compileGlob(pattern.replace(/^\.\//, ""));
  // Without `**` a pattern names a fixed depth; nothing deeper can match.
  const maxDepth = pattern.includes("**") ? Number.POSITIVE_INFINITY : pattern.split("/").length;
  yield* walk(root, "", 1);

  async function* walk(dir: VerifiedDir, prefix: string, depth: number): AsyncGenerator<WalkedFile> {
    signal.throwIfAborted();
    let entries: Dirent[];
    try {
      entries = await readdir(LINUX ? `/proc/self/fd/${dir.handle.fd}` : dir.real, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      const kind = await kindOf(dir, entry);
      if (kind === "file") {
        const real = join(dir.real, entry.name);
        if (matches(relative) && policy.allows(real)) yield { dir, name: entry.name, real };
      } else if (kind === "directory" && depth < maxDepth && !VCS_DIRS.includes(entry.name)) {
        const sub = await openSubdir(dir, entry.name, policy);
        if (!sub) continue;
        try {
          yield* walk(sub, relative, depth + 1);
        } finally {
          await sub.handle.close();
        }
      }
    }
  }
}
