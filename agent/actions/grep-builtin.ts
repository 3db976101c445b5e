import { readFile, stat } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_READ_BYTES } from "../../protocol/limits.ts";
import { ActionError } from "./action-error.ts";
import { comparePaths, listFiles } from "./file-listing.ts";
import type { MatchSink } from "./grep-results.ts";
import { looksBinary, splitLines } from "./text.ts";

function compile(params: ActionParams<"grep">): RegExp {
  try {
    return new RegExp(params.pattern, params.caseInsensitive ? "i" : "");
  } catch (err) {
    throw new ActionError("invalid_params", `invalid regular expression: ${(err as Error).message}`);
  }
}

/** ripgrep matches a glob without a slash against the file name at any depth. */
function globPattern(filter: string | undefined): string {
  if (!filter) return "**/*";
  return filter.includes("/") ? filter.replace(/^\/+/, "") : `**/${filter}`;
}

/** The file's text, or null when it is not worth searching (binary, too big for this fallback, or unreadable). */
async function searchableText(file: string): Promise<string | null> {
  try {
    const info = await stat(file);
    if (!info.isFile() || info.size > MAX_READ_BYTES) return null;
    const bytes = await readFile(file);
    return looksBinary(bytes) ? null : bytes.toString("utf8");
  } catch {
    return null;
  }
}

/** The search used where ripgrep is not installed: JavaScript regular expressions over every text file. */
export async function builtinSearch(params: ActionParams<"grep">, signal: AbortSignal, sink: MatchSink): Promise<void> {
  const regex = compile(params);
  const target = await stat(params.path);
  const files = target.isDirectory() ? (await listFiles(params.path, globPattern(params.glob), signal)).sort(comparePaths) : [params.path];
  for (const file of files) {
    signal.throwIfAborted();
    const text = await searchableText(file);
    if (text === null) continue;
    const lines = splitLines(text);
    for (let i = 0; i < lines.length; i++) {
      if (regex.test(lines[i]!) && !sink({ file, line: i + 1, text: lines[i]! })) return;
    }
  }
  signal.throwIfAborted();
}
