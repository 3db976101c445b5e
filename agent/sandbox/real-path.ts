import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, parse, resolve, sep } from "node:path";

/** Windows accepts both slashes; elsewhere a backslash is an ordinary character of a file name. */
const SEPARATORS = sep === "\\" ? /[\\/]/ : /\//;

/**
 * The path the kernel would reach, with every existing symlink resolved one component at a time, so that `link/..`
 * climbs from the link's target as the kernel does (a lexical normalisation would climb from the link). Components
 * past the first missing one are appended as written: a new file under a symlinked directory is judged by where it
 * would really be created.
 */
export async function resolveRealPath(path: string): Promise<string> {
  const absolute = isAbsolute(path) ? path : `${process.cwd()}${sep}${path}`;
  const { root } = parse(absolute);
  const parts = absolute.slice(root.length).split(SEPARATORS).filter((part) => part !== "");
  let current = root;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === ".") continue;
    if (part === "..") {
      current = dirname(current);
      continue;
    }
    try {
      current = await realpath(join(current, part));
    } catch {
      // Missing, unreadable or looping: the operation cannot go through it either, so judge the rest as written.
      return resolve(current, ...parts.slice(i));
    }
  }
  return current;
}
