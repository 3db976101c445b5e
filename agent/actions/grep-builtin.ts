import { constants } from "node:fs";
import { open } from "node:fs/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { MAX_READ_BYTES } from "../../protocol/limits.ts";
import type { PathPolicy } from "../sandbox/path-policy.ts";
import { childPath, openDirectoryVerified, openFileVerified, statVerified } from "../sandbox/verified-fs.ts";
import { walkFiles, type WalkedFile } from "../sandbox/verified-walk.ts";
import type { MatchSink } from "./grep-results.ts";
import { looksBinary, splitLines } from "./text.ts";

/** ripgrep matches a glob without a slash against the file name at any depth. */
function globPattern(filter: string | undefined): string {
  if (!filter) return "**/*";
  return filter.includes("/") ? filter.replace(/^\/+/, "") : `**/${filter}`;
}

/** The text of a file found by the walk, opened relative to its verified folder without following a symlink. */
async function walkedText(file: WalkedFile): Promise<string | null> {
  try {
    const handle = await open(childPath(file.dir, file.name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    try {
      const info = await handle.stat();
      if (!info.isFile() || info.size > MAX_READ_BYTES) return null;
      const bytes = await handle.readFile();
      return looksBinary(bytes) ? null : bytes.toString("utf8");
    } finally {
      await handle.close();
    }
  } catch {
    return null;
  }
}

async function singleFileText(path: string, policy: PathPolicy): Promise<string | null> {
  const opened = await openFileVerified(path, policy, "read");
  try {
    if (opened.stats.size > MAX_READ_BYTES) return null;
    const bytes = await opened.handle.readFile();
    return looksBinary(bytes) ? null : bytes.toString("utf8");
  } finally {
    await opened.handle.close();
  }
}

function searchText(file: string, text: string, matches: (line: string) => boolean, sink: MatchSink): boolean {
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    if (matches(lines[i]!) && !sink({ file, line: i + 1, text: lines[i]! })) return false;
  }
  return true;
}

/**
 * The search that reads only through verified descriptors: the caller's pattern, compiled with RE2 (time linear in
 * the line, as ripgrep's engine: a pattern like `(.+)+X` cannot freeze the agent), over every text file the policy
 * allows. Used wherever the policy restricts paths, and where ripgrep is not installed.
 */
export async function builtinSearch(params: ActionParams<"grep">, policy: PathPolicy, signal: AbortSignal, sink: MatchSink): Promise<void> {
  // RE2's engine loads with the first search, not at the agent's start (test/node/agent-startup-imports.test.ts).
  const { compilePattern } = await import("../host/process-pattern.ts");
  const matches = compilePattern(params.pattern, { caseInsensitive: params.caseInsensitive });
  const target = await statVerified(params.path, policy);
  if (!target.stats.isDirectory()) {
    const text = await singleFileText(params.path, policy);
    if (text !== null) searchText(target.real, text, matches, sink);
    return;
  }
  const root = await openDirectoryVerified(params.path, policy);
  try {
    for await (const file of walkFiles(root, globPattern(params.glob), policy, signal)) {
      const text = await walkedText(file);
      if (text !== null && !searchText(file.real, text, matches, sink)) return;
    }
  } finally {
    await root.handle.close();
  }
  signal.throwIfAborted();
}
