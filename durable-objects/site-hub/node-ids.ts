import { randomHex } from "../shared/secrets.ts";

/** A readable id from a node's name ("Build Box #1" → "build-box-1"), made unique with a short suffix if taken. */
export function idFromName(name: string, taken: (id: string) => boolean): string {
  const base =
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 48)
      .replace(/-+$/, "") || "node";
  if (!taken(base)) return base;
  for (;;) {
    const candidate = `${base}-${randomHex(2)}`;
    if (!taken(candidate)) return candidate;
  }
}
