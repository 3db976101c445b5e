import { join } from "node:path";

/** Where an install keeps everything: one folder, so upgrading and uninstalling never have to search. */
export const DEFAULT_PREFIX = "/opt/cortex";

export interface InstallLayout {
  prefix: string;
  /** The bundle, `lib/cortex.mjs`: what the service runs, replaced on upgrade. */
  bundle: string;
  /** `bin/cortex`: runs the bundle with the Node the install used, for people on the machine. */
  wrapper: string;
  /** `etc/` (0700): the token and the agent's config file. */
  etc: string;
  token: string;
  config: string;
  /** The agent's state across restarts (seen directives, long runs). */
  state: string;
  /** The home folder of an action user the installer created. */
  home: string;
  /** The folder an unprivileged node is confined to. */
  sandbox: string;
  /** What this install created, so an upgrade keeps it and an uninstall removes exactly that. */
  manifest: string;
}

export function installLayout(prefix: string): InstallLayout {
  const etc = join(prefix, "etc");
  return {
    prefix,
    bundle: join(prefix, "lib", "cortex.mjs"),
    wrapper: join(prefix, "bin", "cortex"),
    etc,
    token: join(etc, "token"),
    config: join(etc, "config.json"),
    state: join(prefix, "state"),
    home: join(prefix, "home"),
    sandbox: join(prefix, "sandbox"),
    manifest: join(prefix, "install.json"),
  };
}
