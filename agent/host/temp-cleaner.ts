import { constants, type Stats } from "node:fs";
import { lstat, open, readdir, readlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { isWithin } from "../../protocol/tier-policy.ts";

/**
 * Removes old temporary files the way tmpreaper and systemd-tmpfiles do, more cautiously: only regular files and
 * symlinks (never sockets, pipes or devices, which something is listening on), only when neither modified nor read
 * within the age, never a file any process has open or a folder any process works in, never across into another
 * filesystem, never the well-known sockets and private folders of X, ssh, tmux and systemd, never the agent's own
 * folders. Folders emptied by the cleaning go too, when they were old themselves.
 *
 * Temporary folders are writable by everyone, so anyone may swap a folder the walk is in for a symlink to /etc
 * between a look and a removal. The walk therefore holds every folder by a descriptor opened without following a
 * link, and names each entry relative to it (`/proc/self/fd/N/name`): a removal can only ever take the entry of
 * the folder that was looked at, whatever its path string has come to mean.
 */

/** Linux's O_PATH: a descriptor that only locates the folder. */
const O_PATH = 0o10000000;
const FOLDER_FLAGS = O_PATH | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** Names directly under a temporary root that belong to running sessions and services. */
const PROTECTED_TOP_LEVEL = [/^\.(X11|ICE|XIM|font|Test)-unix$/, /^\.X\d+-lock$/, /^systemd-private-/, /^snap-private-tmp$/, /^tmux-\d+$/, /^ssh-/];

const MAX_VISITED = 200_000;
const MAX_LARGEST = 10;

export interface CleanOptions {
  roots: readonly string[];
  olderThanMs: number;
  keep: readonly string[];
  /** False at tiers below root: files owned by root are left alone. */
  removeRootOwned: boolean;
  dryRun: boolean;
  signal: AbortSignal;
  /** Stop after this moment and report what was done. */
  deadline: number;
  /**
   * Removes the entry `name` of the folder held by `dir` (a file, or an empty folder), true when done: with the
   * action user's rights (agent/privilege/act-as.ts).
   */
  remove(dir: FileHandle, name: string, folder: boolean): Promise<boolean>;
}

export interface CleanReport {
  removedFiles: number;
  removedFolders: number;
  /** Disk blocks released (what `df` will show), not the files' apparent sizes. */
  freedBytes: number;
  skipped: { inUse: number; protected: number; rootOwned: number; failed: number };
  largest: { path: string; bytes: number }[];
  incomplete?: string;
}

/** Every path under the roots that a process holds open or works in, from /proc/PID/fd and /proc/PID/cwd. */
async function pathsInUse(roots: readonly string[]): Promise<Set<string>> {
  const used = new Set<string>();
  const pids = (await readdir("/proc").catch(() => [])).filter((name) => /^[0-9]+$/.test(name));
  await Promise.all(
    pids.map(async (pid) => {
      const links = [`/proc/${pid}/cwd`, ...(await readdir(`/proc/${pid}/fd`).catch(() => [])).map((fd) => `/proc/${pid}/fd/${fd}`)];
      for (const link of links) {
        const target = await readlink(link).catch(() => null);
        if (target && roots.some((root) => isWithin(target, root))) used.add(target);
      }
    }),
  );
  return used;
}

/** The last time the file was written or read; ctime is left out since renaming or chmod touches it. */
function lastUse(info: Stats): number {
  return Math.max(info.mtimeMs, info.atimeMs);
}

export async function cleanTemporaryFiles(options: CleanOptions): Promise<CleanReport> {
  const report: CleanReport = { removedFiles: 0, removedFolders: 0, freedBytes: 0, skipped: { inUse: 0, protected: 0, rootOwned: 0, failed: 0 }, largest: [] };
  const inUse = await pathsInUse(options.roots);
  const cutoff = Date.now() - options.olderThanMs;
  let visited = 0;

  const noteRemoved = (path: string, info: Stats) => {
    report.removedFiles++;
    const bytes = info.blocks * 512;
    report.freedBytes += bytes;
    report.largest.push({ path, bytes });
    report.largest.sort((a, b) => b.bytes - a.bytes);
    report.largest.length = Math.min(report.largest.length, MAX_LARGEST);
  };

  /** Cleans a folder's contents; true when the folder may be removed afterwards (it was emptied). */
  const cleanFolder = async (dir: FileHandle, dirPath: string, device: number, topLevel: boolean): Promise<boolean> => {
    const names = await readdir(`/proc/self/fd/${dir.fd}`).catch(() => null);
    if (names === null) {
      report.skipped.failed++;
      return false;
    }
    let remaining = names.length;
    for (const name of names) {
      options.signal.throwIfAborted();
      if (++visited > MAX_VISITED || Date.now() > options.deadline) {
        report.incomplete = visited > MAX_VISITED ? `stopped after looking at ${MAX_VISITED} entries` : "stopped at the time limit";
        return false;
      }
      const path = join(dirPath, name);
      const entry = `/proc/self/fd/${dir.fd}/${name}`;
      // A folder holding a kept one deeper down is entered like any other; the kept one stays, so it is never empty.
      if ((topLevel && PROTECTED_TOP_LEVEL.some((p) => p.test(name))) || options.keep.some((k) => isWithin(path, k))) {
        report.skipped.protected++;
        continue;
      }
      const info = await lstat(entry).catch(() => null);
      if (!info || info.dev !== device) continue;
      if (info.isDirectory()) {
        if (inUse.has(path)) {
          report.skipped.inUse++;
          continue;
        }
        // Swapped for a link since the look: the open refuses to follow it, and the entry is left alone.
        const sub = await open(entry, FOLDER_FLAGS).catch(() => null);
        if (!sub) {
          report.skipped.failed++;
          continue;
        }
        let emptied: boolean;
        try {
          emptied = (await sub.stat()).dev === device && (await cleanFolder(sub, path, device, false));
        } finally {
          await sub.close();
        }
        if (report.incomplete) return false;
        if (emptied && lastUse(info) < cutoff && !options.dryRun && (options.removeRootOwned || info.uid !== 0)) {
          if (await options.remove(dir, name, true)) {
            report.removedFolders++;
            remaining--;
          }
        }
        continue;
      }
      if (!info.isFile() && !info.isSymbolicLink()) continue;
      if (lastUse(info) >= cutoff) continue;
      if (inUse.has(path)) {
        report.skipped.inUse++;
        continue;
      }
      if (info.uid === 0 && !options.removeRootOwned) {
        report.skipped.rootOwned++;
        continue;
      }
      if (options.dryRun) {
        noteRemoved(path, info);
        continue;
      }
      if (await options.remove(dir, name, false)) {
        noteRemoved(path, info);
        remaining--;
      } else {
        report.skipped.failed++;
      }
    }
    return remaining === 0;
  };

  for (const root of options.roots) {
    const handle = await open(root, O_PATH | constants.O_DIRECTORY).catch(() => null);
    if (!handle) continue;
    try {
      await cleanFolder(handle, root, (await handle.stat()).dev, true);
    } finally {
      await handle.close();
    }
    if (report.incomplete) break;
  }
  return report;
}
