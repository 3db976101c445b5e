import { execFileSync } from "node:child_process";
import { accessSync, chmodSync, constants, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { SUDO_ALLOWED_COMMANDS } from "../../protocol/tier-policy.ts";

/**
 * The sudoers drop-in of a node at tier `sudo`: its action user may run the package managers as root, and nothing
 * else. sudo itself enforces it; the agent's lexical `sudoViolation` only refuses the obvious early.
 */

/** Login names sudo and useradd both accept without quoting. */
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
/** Absolute paths with no character that means something in a sudoers command spec. */
const COMMAND_PATH = /^\/[A-Za-z0-9._+/-]+$/;
/** Where a package manager usually lives; `sudo` runs commands with `secure_path`, which covers these. */
export const COMMAND_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] as const;
/** Kept by sudo although it resets the environment, so `sudo DEBIAN_FRONTEND=noninteractive apt-get ...` works. */
export const KEPT_ENVIRONMENT = ["DEBIAN_FRONTEND"] as const;

export interface SudoersSpec {
  /** The node the file is for, named in its comment and its file name. */
  nodeId: string;
  /** The OS user the node's actions run as. */
  user: string;
  /** Absolute paths of the allowed programs, as found on this machine (`findAllowedCommands`). */
  commands: readonly string[];
}

export class SudoersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SudoersError";
  }
}

/** `/etc/sudoers.d/cortex-<node>`: sudo skips drop-ins whose names contain a dot, so none is used. */
export function sudoersFileName(nodeId: string): string {
  return `cortex-${nodeId.replace(/[^a-z0-9-]/gi, "-")}`;
}

/** The drop-in's text. Pure: refuses names and paths it could not write safely rather than escaping them. */
export function sudoersDropIn(spec: SudoersSpec): string {
  if (!USER_NAME.test(spec.user)) throw new SudoersError(`invalid user name ${JSON.stringify(spec.user)} for sudoers`);
  if (spec.user === "root") throw new SudoersError("the action user of a sudo node cannot be root");
  if (spec.commands.length === 0) throw new SudoersError(`none of ${SUDO_ALLOWED_COMMANDS.join(", ")} was found on this machine`);
  for (const command of spec.commands) {
    if (!COMMAND_PATH.test(command)) throw new SudoersError(`invalid command path ${JSON.stringify(command)} for sudoers`);
    const name = command.slice(command.lastIndexOf("/") + 1);
    if (!(SUDO_ALLOWED_COMMANDS as readonly string[]).includes(name)) {
      throw new SudoersError(`${command} is not one of the allowed package managers (${SUDO_ALLOWED_COMMANDS.join(", ")})`);
    }
  }
  const node = spec.nodeId.replace(/[^a-z0-9-]/gi, "-");
  const commands = [...new Set(spec.commands)].sort();
  return [
    `# Cortex node ${node}: its actions run as ${spec.user}, who may run only the package managers as root.`,
    "# Written by the Cortex installer; it is replaced on upgrade and removed on uninstall.",
    `Defaults:${spec.user} env_keep += "${KEPT_ENVIRONMENT.join(" ")}"`,
    `${spec.user} ALL=(root) NOPASSWD: ${commands.join(", ")}`,
    "",
  ].join("\n");
}

/** The absolute paths of the allowed package managers present on this machine (symlinks kept as named: sudo matches the path typed). */
export function findAllowedCommands(dirs: readonly string[] = COMMAND_DIRS): string[] {
  const found: string[] = [];
  for (const name of SUDO_ALLOWED_COMMANDS) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        found.push(candidate);
      } catch {
        continue;
      }
    }
  }
  return found;
}

/**
 * Writes the drop-in to `file` (mode 0440, as sudo requires) only once `visudo -cf` accepts it: a broken drop-in
 * would stop sudo from working for everyone on the machine.
 */
export function installSudoersDropIn(file: string, text: string, visudo = "visudo"): void {
  const temporary = join(dirname(file), `.${file.slice(dirname(file).length + 1)}.tmp`);
  writeFileSync(temporary, text, { mode: 0o440 });
  try {
    chmodSync(temporary, 0o440);
    execFileSync(visudo, ["-cf", temporary], { stdio: ["ignore", "pipe", "pipe"] });
    renameSync(temporary, file);
  } catch (err) {
    rmSync(temporary, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new SudoersError(`visudo refused the drop-in for ${file}: ${stderr || (err as Error).message}`);
  }
}
