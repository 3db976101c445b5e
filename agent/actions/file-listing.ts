/** Version-control folders: never listed or searched, they hold history, not the working files. */
export const VCS_DIRS: readonly string[] = [".git", ".hg", ".svn"];

/** Orders paths folder by folder, as ripgrep's `--sort path` does, so both searches page the same way. */
export function comparePaths(a: string, b: string): number {
  const left = a.split("/");
  const right = b.split("/");
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i]! < right[i]! ? -1 : 1;
  }
  return left.length - right.length;
}
