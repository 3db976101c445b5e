import * as z from "zod";

/** An absolute POSIX path, or a Windows one with a drive letter. */
export const AbsolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => p.startsWith("/") || /^[A-Za-z]:[\\/]/.test(p), "path must be absolute")
  .refine((p) => !p.includes("\u0000"), "path must not contain NUL");

// Kept apart from the zod schema above so the dashboard can use it without bundling zod.
export { normalizePath } from "./path-normalize.ts";
