import type { ActionCall } from "./directives.ts";
import { JOURNAL_DIR } from "./machine-actions.ts";
import { normalizePath } from "./paths.ts";
import { DEFAULT_SANDBOX_ROOT, globPatternsOfCall, isWithin, patternEscapes, pathsOfCall, READING_ACTIONS, SANDBOX_PATH } from "./tier-policy.ts";

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

/**
 * Actions a confined caller may run at all. The file actions, whose every path is checked against the readable
 * folders; and the machine diagnostics, which read no file's content but the state the kernel and the init system
 * show any local user: processes (command lines masked), filesystems, interfaces and ports, unit states, the
 * agent's health. The journal holds other services' log lines, so it counts as the folder it is kept in.
 */
const CONFINABLE: ReadonlySet<ActionCall["action"]> = new Set(READING_ACTIONS);

/** Why a confined caller may not run this call with these readable folders, or null when they may. */
export function confinementRefusal(call: ActionCall, roots: readonly string[]): string | null {
  if (!CONFINABLE.has(call.action)) {
    // A long run's status carries the tail of its output, written by whoever launched it: not a readable path.
    return `${call.action} needs a site admin: callers who may only read are limited to reading the site's readable paths and to machine diagnostics`;
  }
  const where = roots.length ? roots.join(", ") : "nowhere (the site has no readable paths)";
  for (const path of pathsOfCall(call)) {
    if (!roots.some((root) => isWithin(path, root))) {
      return `${normalizePath(path)} is outside the site's readable paths (${where}); reading there needs a site admin`;
    }
  }
  if (call.action === "logs.read" && call.params.file === undefined && !roots.some((root) => isWithin(JOURNAL_DIR, root))) {
    return `the journal is kept in ${JOURNAL_DIR}, outside the site's readable paths (${where}); reading it needs a site admin`;
  }
  for (const pattern of globPatternsOfCall(call)) {
    if (patternEscapes(pattern)) return `pattern "${pattern}" may not be absolute or contain '..' for callers who may only read`;
  }
  return null;
}
