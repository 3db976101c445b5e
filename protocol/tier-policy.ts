import { normalizePath } from "./paths.ts";
import type { ActionCall, ActionName } from "./directives.ts";
import type { CapabilityTier } from "./tiers.ts";

/**
 * The one policy that decides what a capability tier may do. The hub applies it to the paths as given (lexically
 * normalised) before sending; the agent applies it again to the paths with symlinks resolved before running.
 */

export const DEFAULT_SANDBOX_ROOT = "/tmp/cortex-sandbox";
export const SUDO_FORBIDDEN_ROOTS = ["/etc", "/root", "/proc", "/sys"] as const;
export const SUDO_ALLOWED_COMMANDS = ["apt", "apt-get", "npm", "pip", "pip3"] as const;

const UNPRIVILEGED_ACTIONS: ReadonlySet<ActionName> = new Set(["read", "glob", "grep"]);

export type TierDecision = { allowed: true } | { allowed: false; reason: string };

export interface TierPolicyOptions {
  sandboxRoot?: string;
}

/** What each tier means, in words, for the CLI, the dashboard and refusals. */
export const TIER_DESCRIPTIONS: Record<CapabilityTier, string> = {
  root: "everything: all actions, all paths, any command",
  sudo: `shell and file actions; no file action under ${SUDO_FORBIDDEN_ROOTS.join(", ")}; sudo only for ${SUDO_ALLOWED_COMMANDS.join(", ")}`,
  unprivileged: `read-only actions (read, glob, grep) confined to the sandbox folder (default ${DEFAULT_SANDBOX_ROOT}); no shell`,
};

/** The filesystem paths an action touches, which the tier must allow. */
export function pathsOfCall(call: ActionCall): string[] {
  switch (call.action) {
    case "read":
    case "write":
    case "edit":
    case "glob":
    case "grep":
      return [call.params.path];
    case "bash":
    case "run.launch":
      return call.params.cwd ? [call.params.cwd] : [];
    case "roost.deploy":
    case "roost.activate":
      return [call.params.path];
    case "run.status":
    case "run.cancel":
      return [];
  }
}

/** The shell command an action runs, if any: it is judged like a `bash` directive's. */
export function commandOfCall(call: ActionCall): string | null {
  switch (call.action) {
    case "bash":
    case "run.launch":
      return call.params.command;
    case "roost.deploy":
    case "roost.activate":
      return call.params.after ?? null;
    default:
      return null;
  }
}

export function isWithin(path: string, root: string): boolean {
  const p = normalizePath(path);
  const r = normalizePath(root).replace(/\/+$/, "") || "/";
  return r === "/" || p === r || p.startsWith(r + "/");
}

function patternEscapes(pattern: string): boolean {
  return pattern.startsWith("/") || pattern.split(/[\\/]/).includes("..");
}

/**
 * Every `sudo` in a command must run one of the allowed package managers. This is a lexical check, a second line
 * behind the machine's own sudoers rules: it refuses the obvious, it cannot prove a shell program harmless.
 */
export function sudoViolation(command: string): string | null {
  if (/(^|[\s;&|(`$])(su|doas|pkexec)(\s|$)/.test(command)) return "switching user (su, doas, pkexec) is not allowed at tier sudo";
  const re = /(^|[\s;&|(`$"'])sudo(?=\s|$)/g;
  for (const match of command.matchAll(re)) {
    const rest = command.slice((match.index ?? 0) + match[0].length).trimStart();
    const words = rest.split(/\s+/);
    let i = 0;
    while (i < words.length && words[i]!.startsWith("-")) i++;
    const program = words[i] ?? "";
    if (!(SUDO_ALLOWED_COMMANDS as readonly string[]).includes(program)) {
      return `sudo is allowed only for ${SUDO_ALLOWED_COMMANDS.join(", ")} at tier sudo (got "sudo ${program}")`;
    }
  }
  return null;
}

export function evaluateTier(tier: CapabilityTier, call: ActionCall, options: TierPolicyOptions = {}): TierDecision {
  if (tier === "root") return { allowed: true };
  const sandbox = options.sandboxRoot ?? DEFAULT_SANDBOX_ROOT;
  const paths = pathsOfCall(call).map((p) => normalizePath(p));
  const globPatterns = call.action === "glob" ? [call.params.pattern] : call.action === "grep" && call.params.glob ? [call.params.glob] : [];
  for (const pattern of globPatterns) {
    if (patternEscapes(pattern)) return { allowed: false, reason: `pattern "${pattern}" may not be absolute or contain '..' at tier ${tier}` };
  }

  if (tier === "unprivileged") {
    if (!UNPRIVILEGED_ACTIONS.has(call.action)) {
      return { allowed: false, reason: `action ${call.action} is not allowed at tier unprivileged (read, glob and grep only)` };
    }
    for (const p of paths) {
      if (!isWithin(p, sandbox)) return { allowed: false, reason: `path ${p} is outside the sandbox ${sandbox} at tier unprivileged` };
    }
    return { allowed: true };
  }

  for (const p of paths) {
    const root = SUDO_FORBIDDEN_ROOTS.find((r) => isWithin(p, r));
    if (root) return { allowed: false, reason: `path ${p} is under ${root}, which tier sudo may not touch` };
  }
  const command = commandOfCall(call);
  if (command !== null) {
    const violation = sudoViolation(command);
    if (violation) return { allowed: false, reason: violation };
  }
  return { allowed: true };
}
