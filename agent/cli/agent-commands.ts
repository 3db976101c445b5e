import { resolve } from "node:path";
import { Option, type Command } from "commander";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { BUNDLE_FILE } from "../bundle.ts";
import { AGENT_VERSION } from "../connection/agent-version.ts";
import { readTokenFile, TokenFileError } from "../connection/token-file.ts";
import { DEFAULT_PREFIX } from "../install/install-layout.ts";
import { InstallError } from "../install/install-error.ts";
import { CliError } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import { askOnTerminal, firstLine } from "./secret-input.ts";

interface InstallFlags {
  endpoint?: string;
  tier?: CapabilityTier;
  prefix: string;
  tokenFile?: string;
  tokenStdin?: boolean;
  token?: string;
  newToken?: boolean;
  user?: string;
  name?: string;
  group?: string;
  sandbox?: string;
  service: boolean;
}

const INSTALL_HELP = `
Usually run by the hub's install script, which downloads and checks this file first:
  curl -fsSL https://<hub>/install.sh | sudo sh -s -- --endpoint https://<hub>/api/sites/<site> --tier sudo

As root it installs into --prefix (one folder), writes the token to <prefix>/etc/token (0600, root only), creates
the user cortex-<node> that actions run as (tiers sudo and unprivileged; --user to use an existing one), writes the
sudoers drop-in that lets that user run only the package managers (tier sudo), and installs and starts the systemd
service cortex-<node>. Running it again upgrades in place and keeps the token, the state and the user; --new-token
asks for a new token (after \`cortex node rekey\`). Without root, use --no-service: the agent then runs as you.

The token is asked for on the terminal without echo, or read from --token-file <file> (mode 0600) or, with
--token-stdin, from standard input. It is never accepted on the command line, where \`ps\` and shell history would
show it. See docs/install.md.
`;

/** A token typed on the command line is already in `ps` and the shell's history: refuse it and say what to do. */
const TOKEN_ON_COMMAND_LINE =
  "the token is not accepted on the command line, where ps and your shell history show it: leave it out to be asked for it, or use --token-file <file> (mode 0600). If it was typed here, rotate it: `cortex node rekey <node>` or New token on the machine's page";

export function addAgentCommands(program: Command, cli: CliContext): void {
  const agent = program.command("agent").description("install, upgrade or uninstall the agent on this machine");

  agent
    .command("install")
    .description("install (or upgrade) the agent on this machine, with its user, sudoers and systemd service")
    .option("--endpoint <url>", "the hub's site URL, https://<hub>/api/sites/<site> (kept on upgrade)")
    .addOption(new Option("--tier <tier>", "tier to run at, at most the node's ceiling (default unprivileged; kept on upgrade)").choices(CapabilityTier.options))
    .option("--prefix <dir>", "the folder to install into", DEFAULT_PREFIX)
    .option("--token-file <file>", "read the token from this file (mode 0600) instead of asking for it")
    .option("--token-stdin", "read the token from the first line of standard input")
    .option("--new-token", "replace the installed token (asked for, or --token-file / --token-stdin)")
    .addOption(new Option("--token <token>").hideHelp())
    .option("--user <name>", "run actions as this existing user instead of creating cortex-<node>")
    .option("--name <name>", "name the agent reports (default: the hostname)")
    .option("--group <group>", "group the agent reports")
    .option("--sandbox <dir>", "the folder an unprivileged node is confined to (default <prefix>/sandbox)")
    .option("--no-service", "install only, without a systemd service, and print how to run the agent")
    .addHelpText("after", INSTALL_HELP)
    .action(
      cli.action(async (flags: InstallFlags) => {
        if (flags.token !== undefined) throw new CliError(TOKEN_ON_COMMAND_LINE);
        if (flags.tokenFile !== undefined && flags.tokenStdin) throw new CliError("--token-file and --token-stdin both name a token: keep one");
        if (BUNDLE_FILE === undefined) {
          throw new CliError("cortex agent install installs the bundle the hub serves: run the hub's install script (curl -fsSL https://<hub>/install.sh | sudo sh -s -- ...), or node web/dist/agent/cortex-*.mjs agent install after npm run build");
        }
        const { installAgent } = await import("../install/installer.ts");
        const report = await guard(() =>
          installAgent({
            prefix: resolve(cli.io.cwd, flags.prefix),
            endpoint: flags.endpoint,
            tier: flags.tier,
            name: flags.name,
            group: flags.group,
            sandbox: flags.sandbox === undefined ? undefined : resolve(cli.io.cwd, flags.sandbox),
            user: flags.user,
            service: flags.service,
            newToken: Boolean(flags.newToken || flags.tokenFile !== undefined || flags.tokenStdin),
            token: () => tokenFor(cli, flags),
            bundle: BUNDLE_FILE!,
            version: AGENT_VERSION,
            node: process.execPath,
          }),
        );
        cli.out(`${report.lines.join("\n")}\n`);
      }),
    );

  agent
    .command("uninstall")
    .description("stop and remove the installed agent: its service, sudoers drop-in, the user it created, its folder")
    .option("--prefix <dir>", "the folder it was installed into", DEFAULT_PREFIX)
    .action(
      cli.action(async (flags: { prefix: string }) => {
        const { uninstallAgent } = await import("../install/uninstaller.ts");
        const lines = await guard(async () => uninstallAgent(resolve(cli.io.cwd, flags.prefix)));
        cli.out(`${lines.join("\n")}\n`);
      }),
    );
}

/** Installer refusals are the user's to act on: one line, no stack. */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof InstallError || error instanceof TokenFileError) throw new CliError(error.message);
    throw error;
  }
}

async function tokenFor(cli: CliContext, flags: InstallFlags): Promise<string> {
  // Read once and copied into the install, so a file the installing person made for themselves is fine.
  if (flags.tokenFile !== undefined) return readTokenFile(resolve(cli.io.cwd, flags.tokenFile), { anyOwner: true });
  if (flags.tokenStdin) return firstLine(process.stdin);
  const typed = await askOnTerminal("Token of this node, as the hub showed it (not echoed): ");
  if (typed === null) throw new CliError("no token, and no terminal to ask for it on: pass --token-file <file> (mode 0600) or --token-stdin");
  return typed;
}
