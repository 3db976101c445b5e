import { z } from "zod";

/** An absolute POSIX path, or a Windows one with a drive letter. */
export const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p), "path must be absolute")
  .refine((p) => !p.includes("\u0000"), "path must not contain NUL");

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
