import { readFile } from "node:fs/promises";

/** A small system file's text, trimmed, or null when it is missing or unreadable: many are optional. */
export async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, "utf8")).trim();
  } catch {
    return null;
  }
}
