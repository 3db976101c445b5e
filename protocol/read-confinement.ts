import type { ActionCall } from "./directives.ts";
import { normalizePath } from "./paths.ts";
import { SANDBOX_PATH } from "./site-settings.ts";
import { DEFAULT_SANDBOX_ROOT, globPatternsOfCall, isWithin, patternEscapes, pathsOfCall } from "./tier-policy.ts";

/**
 * Who may read what. A caller capped at risk tier 1 (a member, a read or chat API key) may read, find and search
 * only inside the site's readable paths. The hub checks the paths as written (lexically, so it can refuse early
 * and say why) and sends the folders with the directive as `confineTo`; the agent checks them again against what
 * it really opens, where `..`, symlinks and races cannot fool it.
 */

/** The real folders a site's readable paths mean on one node: `sandbox` becomes that node's sandbox folder. */
export function readableRoots(readablePaths: readonly string[], sandboxRoot: string | null): string[] {
  const roots = readablePaths.map((p) => normalizePath(p === SANDBOX_PATH ? (sandboxRoot ?? DEFAULT_SANDBOX_ROOT) : p));
  return [...new Set(roots)];
}

/** Actions a confined caller may run at all: the ones whose every path is checked against the readable folders. */
const CONFINABLE: ReadonlySet<ActionCall["action"]> = new Set(["read", "glob", "grep"]);

/** Why a confined caller may not run this call with these readable folders, or null when they may. */
export function confinementRefusal(call: ActionCall, roots: readonly string[]): string | null {
  if (!CONFINABLE.has(call.action)) {
    // A long run's status carries the tail of its output, written by whoever launched it: not a readable path.
    return `${call.action} needs a site admin: callers who may only read are limited to read, glob and grep in the site's readable paths`;
  }
  const where = roots.length ? roots.join(", ") : "nowhere (the site has no readable paths)";
  for (const path of pathsOfCall(call)) {
    if (!roots.some((root) => isWithin(path, root))) {
      return `${normalizePath(path)} is outside the site's readable paths (${where}); reading there needs a site admin`;
    }
  }
  for (const pattern of globPatternsOfCall(call)) {
    if (patternEscapes(pattern)) return `pattern "${pattern}" may not be absolute or contain '..' for callers who may only read`;
  }
  return null;
}
