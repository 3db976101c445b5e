import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * CORTEX_ADMIN_KEY from the `.dev.vars` file `npm start` writes into the working directory, so that a local hub
 * can be driven without copying its key around. Undefined when the file or the key is absent.
 */
export function devAdminKey(cwd: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(cwd, ".dev.vars"), "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?CORTEX_ADMIN_KEY\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    const value = match[1]!.replace(/^(["'])(.*)\1$/, "$2");
    return value || undefined;
  }
  return undefined;
}
