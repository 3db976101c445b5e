import type { Stats } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { isWithin } from "../../protocol/tier-policy.ts";

/**
 * Removes old temporary files the way tmpreaper and systemd-tmpfiles do, more cautiously: only regular files and
 * symlinks (never sockets, pipes or devices, which something is listening on), only when neither modified nor read
 * within the age, never a file any process has open or a folder any process works in, never across into another
 * filesystem, never the well-known sockets and private folders of X, ssh, tmux and systemd, never the agent's own
 * folders. Folders emptied by the cleaning go too, when they were old themselves.
 */

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
  /** Removes a file or an empty folder, true when done: with the action user's rights (agent/privilege/act-as.ts). */
  remove(path: string, folder: boolean): Promise<boolean>;
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
  const cleanFolder = async (dir: string, device: number, topLevel: boolean): Promise<boolean> => {
    const names = await readdir(dir).catch(() => null);
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
      const path = join(dir, name);
      // A folder holding a kept one deeper down is entered like any other; the kept one stays, so it is never empty.
      if ((topLevel && PROTECTED_TOP_LEVEL.some((p) => p.test(name))) || options.keep.some((k) => isWithin(path, k))) {
        report.skipped.protected++;
        continue;
      }
      const info = await lstat(path).catch(() => null);
      if (!info || info.dev !== device) continue;
      if (info.isDirectory()) {
        if (inUse.has(path)) {
          report.skipped.inUse++;
          continue;
        }
        const emptied = await cleanFolder(path, device, false);
        if (report.incomplete) return false;
        if (emptied && lastUse(info) < cutoff && !options.dryRun && (options.removeRootOwned || info.uid !== 0)) {
          if (await options.remove(path, true)) {
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
      if (await options.remove(path, false)) {
        noteRemoved(path, info);
        remaining--;
      } else {
        report.skipped.failed++;
      }
    }
    return remaining === 0;
  };

  for (const root of options.roots) {
    const info = await lstat(root).catch(() => null);
    if (!info?.isDirectory()) continue;
    await cleanFolder(root, info.dev, true);
    if (report.incomplete) break;
  }
  return report;
}
