import { normalizePath } from "./path-normalize.ts";
import { ACTION_RISK } from "./action-risk.ts";
import type { ActionCall, ActionName } from "./directives.ts";
import type { ProcessSpec } from "./processes.ts";
import type { CapabilityTier } from "./tiers.ts";

/**
 * The one policy that states what a capability tier may do. The hub and the agent apply it to the paths as given
 * (lexically normalised), to refuse early; the agent's file actions apply `pathDecision` to the real path of every
 * descriptor they open, and the OS user the agent runs actions as bounds the rest (see docs/tiers.md).
 */

export const DEFAULT_SANDBOX_ROOT = "/tmp/cortex-sandbox";
/** In a site's `readablePaths`, the word that stands for each node's own sandbox folder (the one its agent reports). */
export const SANDBOX_PATH = "sandbox";
export const SUDO_FORBIDDEN_ROOTS = ["/etc", "/root", "/proc", "/sys"] as const;
export const SUDO_ALLOWED_COMMANDS = ["apt", "apt-get", "npm", "pip", "pip3"] as const;

/**
 * Actions that change nothing: the file reads, whose paths the tiers and the readable paths check, and the machine
 * diagnostics, which read what the kernel and the init system show every local user (/proc, statfs, `systemctl
 * show`) rather than files, so the "no file action under /proc" rule is not about them.
 */
export const READING_ACTIONS: readonly ActionName[] = [
  "read",
  "glob",
  "grep",
  "list",
  "logs.read",
  "disk.usage",
  "system.info",
  "process.list",
  "network.info",
  "service.status",
  "agent.health",
];

/**
 * Tier unprivileged reads its sandbox and nothing else, and changes nothing: the reading actions, with every path
 * inside the sandbox. The journal is not a file in it (it holds other services' log lines), so `logs.read` works
 * here only on a file in the sandbox.
 */
const UNPRIVILEGED_ACTIONS: ReadonlySet<ActionName> = new Set<ActionName>([
  ...READING_ACTIONS,
  // Supervised processes are started and stopped at every tier: what they run was checked against the tier when
  // they were configured (`evaluateProcess`), and is checked again by the agent before each start.
  "supervised.start",
  "supervised.stop",
  "supervised.restart",
  "supervised.logs",
]);

/**
 * Tier sudo may manage what it was given but not the machine itself: restarting, stopping or un-scheduling the
 * machine's power is root's decision. What it may manage, the operating system decides: `service.manage` and the
 * journal vacuum of `disk.clean` run `sudo -n systemctl` / `sudo -n journalctl` when the action's user is not
 * root, so they work exactly when the machine's sudoers allows them and are refused otherwise (never a password
 * prompt); `process.signal` and the temporary-file part of `disk.clean` leave root's processes and files alone
 * (`actsOnRootOwned`). The path rules below apply to `list`, `logs.read` and `disk.usage` as to any file action.
 */
const SUDO_REFUSED: Readonly<Partial<Record<ActionName, string>>> = {
  "system.reboot": "rebooting the machine needs tier root",
  "system.shutdown": "shutting the machine down needs tier root",
  "system.cancel_shutdown": "cancelling a scheduled shutdown needs tier root, like scheduling one",
};

export type TierDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * The actions a tier may run at all, from the least risky up. Each call is still checked by `evaluateTier` (paths,
 * commands); this is what a console should offer and what a machine's page lists as what it permits.
 */
export function actionsAllowedAt(tier: CapabilityTier): ActionName[] {
  // Every action has a risk tier, so this is the whole catalog, without pulling zod into the dashboard.
  const all = Object.keys(ACTION_RISK) as ActionName[];
  if (tier === "root") return all;
  if (tier === "unprivileged") return all.filter((a) => UNPRIVILEGED_ACTIONS.has(a));
  return all.filter((a) => !SUDO_REFUSED[a]);
}

export interface TierPolicyOptions {
  sandboxRoot?: string;
}

/** What each tier means, in words, for the CLI, the dashboard and refusals. */
export const TIER_DESCRIPTIONS: Record<CapabilityTier, string> = {
  root: "everything: all actions, all paths, any command",
  sudo: `shell, file and management actions; no file action under ${SUDO_FORBIDDEN_ROOTS.join(", ")}; sudo only for ${SUDO_ALLOWED_COMMANDS.join(", ")} and what sudoers allows for services; no reboot or shutdown; never root's processes or files`,
  unprivileged: `read-only actions (read, glob, grep, list, log files) confined to the sandbox folder (default ${DEFAULT_SANDBOX_ROOT}) and machine diagnostics; no shell, no journal, no changes`,
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
    case "list":
      return [call.params.path];
    case "logs.read":
      return call.params.file === undefined ? [] : [call.params.file];
    case "disk.usage":
      return call.params.path === undefined ? [] : [call.params.path];
    case "roost.deploy":
    case "roost.activate":
      return [call.params.path];
    case "run.status":
    case "run.cancel":
    case "system.info":
    case "process.list":
    case "network.info":
    case "service.status":
    case "agent.health":
    case "service.manage":
    case "process.signal":
    case "disk.clean":
    case "system.reboot":
    case "system.shutdown":
    case "system.cancel_shutdown":
    case "supervised.start":
    case "supervised.stop":
    case "supervised.restart":
    case "supervised.logs":
      return [];
  }
}

/**
 * Whether actions at this tier may act on what root owns: signal root's processes (`process.signal`) or remove
 * root's temporary files (`disk.clean`). Only root: a sudo node's own user could not either, and its sudo rights
 * cover named commands, not `kill` or `rm`.
 */
export function actsOnRootOwned(tier: CapabilityTier): boolean {
  return tier === "root";
}

/** The glob patterns an action matches files with, which must not lead out of its folder. */
export function globPatternsOfCall(call: ActionCall): string[] {
  if (call.action === "glob") return [call.params.pattern];
  return call.action === "grep" && call.params.glob ? [call.params.glob] : [];
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

/** Whether a glob pattern could match outside the folder it is searched from. */
export function patternEscapes(pattern: string): boolean {
  return pattern.startsWith("/") || pattern.split(/[\\/]/).includes("..");
}

/** sudo's options that take a value (`-u root`, `--user=root`), by short and long name. */
const SUDO_VALUE_OPTIONS = new Set(["-C", "-D", "-g", "-h", "-p", "-R", "-r", "-T", "-t", "-U", "-u"]);
const SUDO_LONG_VALUE_OPTIONS = new Set(["--chdir", "--chroot", "--close-from", "--command-timeout", "--group", "--host", "--other-user", "--prompt", "--role", "--type", "--user"]);
/** Options that run a shell or an editor instead of the command named: sudoers would judge the shell, not the program. */
const SUDO_SHELL_OPTIONS = new Set(["-e", "-i", "-s", "--edit", "--login", "--shell"]);
/** Options that do something on their own (list, validate, forget the timestamp, help, version) and need no command. */
const SUDO_STANDALONE_OPTIONS = new Set(["-K", "-k", "-l", "-V", "-v", "--help", "--list", "--remove-timestamp", "--reset-timestamp", "--validate", "--version"]);
const ENV_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const SHELL_BREAK = /[;&|()`<>\n]/;

/** The words after `sudo` up to the end of its simple command, with plain quotes removed. */
function sudoWords(rest: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | null = null;
  let started = false;
  for (const ch of rest) {
    if (quote) {
      if (ch === quote) quote = null;
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      started = true;
      continue;
    }
    if (/\s/.test(ch) || SHELL_BREAK.test(ch)) {
      if (started) words.push(word);
      word = "";
      started = false;
      if (SHELL_BREAK.test(ch)) break;
      continue;
    }
    word += ch;
    started = true;
  }
  if (started) words.push(word);
  return words;
}

/** What one `sudo` invocation runs: a program name, null for a standalone option, or a refusal. */
function sudoTarget(words: string[]): { program: string | null } | { refusal: string } {
  let i = 0;
  while (i < words.length) {
    const word = words[i]!;
    if (word === "--") {
      i++;
      break;
    }
    if (ENV_ASSIGNMENT.test(word)) {
      i++;
      continue;
    }
    if (!word.startsWith("-") || word === "-") break;
    if (word.startsWith("--")) {
      const name = word.split("=", 1)[0]!;
      if (SUDO_SHELL_OPTIONS.has(name)) return { refusal: `sudo ${name} runs a shell or an editor, which is not allowed at tier sudo` };
      if (SUDO_STANDALONE_OPTIONS.has(name)) return { program: null };
      i += SUDO_LONG_VALUE_OPTIONS.has(name) && !word.includes("=") ? 2 : 1;
      continue;
    }
    // Short options may be bundled (`-nu root`, `-nuroot`); a value option takes the rest of the word or the next one.
    let takesNext = false;
    for (let j = 1; j < word.length; j++) {
      const option = `-${word[j]}`;
      if (SUDO_SHELL_OPTIONS.has(option)) return { refusal: `sudo ${option} runs a shell or an editor, which is not allowed at tier sudo` };
      if (SUDO_VALUE_OPTIONS.has(option)) {
        takesNext = j === word.length - 1;
        break;
      }
      if (SUDO_STANDALONE_OPTIONS.has(option) && words.length === i + 1) return { program: null };
    }
    i += takesNext ? 2 : 1;
  }
  while (i < words.length && ENV_ASSIGNMENT.test(words[i]!)) i++;
  const program = words[i];
  if (program === undefined) return { refusal: "sudo without a command is not allowed at tier sudo" };
  return { program };
}

/**
 * Every `sudo` in a command must run one of the allowed package managers. This is only an early, friendly refusal
 * of the obvious: the node's sudoers drop-in (`agent/privilege/sudoers.ts`) is what decides. So it must never refuse
 * what sudoers allows (options with values, `--`, environment assignments, an absolute path to the program); it
 * cannot prove a shell program harmless and does not try.
 */
export function sudoViolation(command: string): string | null {
  if (/(^|[\s;&|(`$])(su|doas|pkexec)(\s|$)/.test(command)) return "switching user (su, doas, pkexec) is not allowed at tier sudo";
  const re = /(^|[\s;&|(`$"'])sudo(?=\s|$)/g;
  for (const match of command.matchAll(re)) {
    const target = sudoTarget(sudoWords(command.slice((match.index ?? 0) + match[0].length)));
    if ("refusal" in target) return target.refusal;
    if (target.program === null) continue;
    const name = target.program.slice(target.program.lastIndexOf("/") + 1);
    if (!(SUDO_ALLOWED_COMMANDS as readonly string[]).includes(name)) {
      return `sudo is allowed only for ${SUDO_ALLOWED_COMMANDS.join(", ")} at tier sudo (got "sudo ${target.program}")`;
    }
  }
  return null;
}

/** Whether the tier lets an action touch `path`: the agent asks it about real paths of opened descriptors. */
export function pathDecision(tier: CapabilityTier, path: string, options: TierPolicyOptions = {}): TierDecision {
  if (tier === "root") return { allowed: true };
  const p = normalizePath(path);
  if (tier === "unprivileged") {
    const sandbox = options.sandboxRoot ?? DEFAULT_SANDBOX_ROOT;
    return isWithin(p, sandbox) ? { allowed: true } : { allowed: false, reason: `path ${p} is outside the sandbox ${sandbox} at tier unprivileged` };
  }
  const root = SUDO_FORBIDDEN_ROOTS.find((r) => isWithin(p, r));
  return root ? { allowed: false, reason: `path ${p} is under ${root}, which tier sudo may not touch` } : { allowed: true };
}

export function evaluateTier(tier: CapabilityTier, call: ActionCall, options: TierPolicyOptions = {}): TierDecision {
  if (tier === "root") return { allowed: true };
  for (const pattern of globPatternsOfCall(call)) {
    if (patternEscapes(pattern)) return { allowed: false, reason: `pattern "${pattern}" may not be absolute or contain '..' at tier ${tier}` };
  }
  if (tier === "unprivileged") {
    if (!UNPRIVILEGED_ACTIONS.has(call.action)) {
      return { allowed: false, reason: `action ${call.action} is not allowed at tier unprivileged (reading the sandbox and diagnostics only)` };
    }
    if (call.action === "logs.read" && call.params.file === undefined) {
      return { allowed: false, reason: "the journal is not readable at tier unprivileged; only log files inside the sandbox are" };
    }
  } else {
    const refusal = SUDO_REFUSED[call.action];
    if (refusal) return { allowed: false, reason: refusal };
  }
  for (const p of pathsOfCall(call)) {
    const decision = pathDecision(tier, p, options);
    if (!decision.allowed) return decision;
  }
  const command = tier === "sudo" ? commandOfCall(call) : null;
  if (command !== null) {
    const violation = sudoViolation(command);
    if (violation) return { allowed: false, reason: violation };
  }
  return { allowed: true };
}

// ---- supervised processes ----

/**
 * Environment variables no supervised process may be given, at any tier: they make the dynamic loader, a shell or an
 * interpreter load code that the command line does not name (LD_PRELOAD, LD_AUDIT, BASH_ENV, NODE_OPTIONS=--require
 * ...), so whoever reads the process's command would not see what really runs. A wrapper script named as the command
 * does the same job in plain sight.
 */
export const REFUSED_ENV_PREFIXES = ["LD_", "DYLD_"] as const;
export const REFUSED_ENV_NAMES = ["BASH_ENV", "ENV", "NODE_OPTIONS", "PERL5OPT", "RUBYOPT", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"] as const;

export function refusedEnvName(name: string): boolean {
  return REFUSED_ENV_PREFIXES.some((prefix) => name.startsWith(prefix)) || (REFUSED_ENV_NAMES as readonly string[]).includes(name);
}

/** The folder a process runs in when its configuration names none. */
export function defaultProcessCwd(tier: CapabilityTier, options: TierPolicyOptions = {}): string {
  return tier === "unprivileged" ? (options.sandboxRoot ?? DEFAULT_SANDBOX_ROOT) : "/";
}

/** A word as the sudo check reads it: plain when it can be, else single-quoted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The program and arguments as one line of shell words, for the sudo check. A program named by its path
 * (/usr/bin/sudo) is checked by its name, as the check reads words.
 */
function commandLine(spec: Pick<ProcessSpec, "command" | "args" | "shell">): string {
  if (spec.shell) return spec.command;
  const program = spec.command.slice(spec.command.lastIndexOf("/") + 1);
  return [program, ...spec.args].map(shellWord).join(" ");
}

/**
 * Whether a node at this tier may supervise this process. Tier root: anything. Tier sudo: not from a folder it may
 * not touch, and sudo only as its shell commands may use it. Tier unprivileged supervises nothing outside its
 * sandbox: the program is a file inside the sandbox named by its absolute path (no PATH lookup, no shell, so no
 * interpreter from outside), the working folder is inside it, and the logs are the agent's own files. What the
 * program then does is bounded by the tier's operating-system user, as for any action. The hub applies this to the
 * configuration as written; the agent applies it again to real paths before each start.
 */
export function evaluateProcess(tier: CapabilityTier, spec: Pick<ProcessSpec, "command" | "args" | "shell" | "cwd" | "env">, options: TierPolicyOptions = {}): TierDecision {
  const refused = Object.keys(spec.env).find(refusedEnvName);
  if (refused) {
    return { allowed: false, reason: `environment variable ${refused} is refused at every tier: it loads code the command line does not show (use a wrapper script as the command instead)` };
  }
  if (tier === "root") return { allowed: true };
  const cwd = normalizePath(spec.cwd ?? defaultProcessCwd(tier, options));
  if (tier === "unprivileged") {
    const sandbox = options.sandboxRoot ?? DEFAULT_SANDBOX_ROOT;
    if (spec.shell) return { allowed: false, reason: `a shell command line is not allowed at tier unprivileged: name a program inside the sandbox ${sandbox}` };
    if (!spec.command.startsWith("/")) return { allowed: false, reason: `at tier unprivileged the command must be the absolute path of a program inside the sandbox ${sandbox}` };
    const program = normalizePath(spec.command);
    if (!isWithin(program, sandbox)) return { allowed: false, reason: `program ${program} is outside the sandbox ${sandbox} at tier unprivileged` };
    if (!isWithin(cwd, sandbox)) return { allowed: false, reason: `working folder ${cwd} is outside the sandbox ${sandbox} at tier unprivileged` };
    return { allowed: true };
  }
  const root = SUDO_FORBIDDEN_ROOTS.find((r) => isWithin(cwd, r));
  if (root) return { allowed: false, reason: `working folder ${cwd} is under ${root}, which tier sudo may not touch` };
  const violation = sudoViolation(commandLine(spec));
  return violation ? { allowed: false, reason: violation } : { allowed: true };
}
