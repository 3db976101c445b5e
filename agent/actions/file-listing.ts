import { glob } from "tinyglobby";

/** Version-control folders: never listed or searched, they hold history, not the working files. */
export const VCS_DIRS = [".git", ".hg", ".svn"] as const;

/** Files under `root` matching `pattern`, including dot files, never entering VCS folders or following symlinks. */
export function listFiles(root: string, pattern: string, signal: AbortSignal): Promise<string[]> {
  return glob(pattern, {
    cwd: root,
    absolute: true,
    dot: true,
    expandDirectories: false,
    followSymbolicLinks: false,
    ignore: VCS_DIRS.map((dir) => `**/${dir}/**`),
    signal,
  });
}

/** Orders paths folder by folder, as ripgrep's `--sort path` does, so both searches page the same way. */
export function comparePaths(a: string, b: string): number {
  const left = a.split("/");
  const right = b.split("/");
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i]! < right[i]! ? -1 : 1;
  }
  return left.length - right.length;
}
