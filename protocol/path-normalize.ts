/**
 * Lexical POSIX path normalisation, shared by the hub (workerd) and the agent (Node). It resolves `.` and `..`
 * without touching the filesystem; the agent resolves symlinks itself before asking the tier policy.
 */
export function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = out.join("/");
  return absolute ? `/${joined}` : joined || ".";
}
