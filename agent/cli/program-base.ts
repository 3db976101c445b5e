import { Command, CommanderError } from "commander";
import { revealControls } from "../../protocol/hidden-characters.ts";
import { AGENT_VERSION } from "../connection/agent-version.ts";
import { CliContext } from "./cli-context.ts";
import { CliError } from "./cli-error.ts";
import { defaultConfigPath } from "./config-file.ts";
import type { CliIo } from "./io.ts";
import { DEFAULT_HUB } from "./settings.ts";

function settingsHelp(io: CliIo): string {
  return `
Connection settings (hub, site, API key) come from the flag, else the environment (CORTEX_HUB, CORTEX_SITE,
CORTEX_API_KEY), else the config file: --config, else $CORTEX_CONFIG, else ${defaultConfigPath(io)}
(JSON: {"hub", "site", "apiKey", "connect": {...}}). Defaults: hub ${DEFAULT_HUB}, site default.
Local development: when no API key is set anywhere and the hub is on loopback, CORTEX_ADMIN_KEY is read from
./.dev.vars in the current directory (the file \`npm start\` writes).
`;
}

/** The `cortex` command with its global options and no subcommand yet, writing through `io`. */
export function baseProgram(io: CliIo): { program: Command; cli: CliContext } {
  const cli = new CliContext(io);
  const program = new Command("cortex")
    .description("Run and watch a fleet of machines: manage nodes, run commands and file actions on them.")
    .version(AGENT_VERSION, "-V, --version")
    .option("--hub <url>", "hub URL")
    .option("--site <site>", "site id")
    .option("--api-key <key>", "API key (prefer CORTEX_API_KEY: flags show up in the process list)")
    .option("--config <file>", "config file")
    .addHelpText("afterAll", settingsHelp(io))
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .showSuggestionAfterError()
    .exitOverride();
  return { program, cli };
}

/** The `node` command group. */
export function nodeCommand(program: Command): Command {
  return program.command("node").description("register, list, inspect and remove nodes; connect this machine as one");
}

/** Runs a program on `argv` (the arguments after `cortex`) and returns the process exit code. */
export async function runProgram(program: Command, cli: CliContext, argv: string[], io: CliIo): Promise<number> {
  try {
    await program.parseAsync(argv, { from: "user" });
    return shellExitCode(cli.exitCode);
  } catch (error) {
    // Commander has already printed its own usage errors and help.
    if (error instanceof CommanderError) return error.exitCode;
    // A hub's error message can relay a node's text (a process operation's failure, for one).
    io.stderr(`error: ${revealControls(error instanceof Error ? error.message : String(error))}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

/** A shell sees only the low 8 bits: a remote exit code such as 256 must not turn into success. */
function shellExitCode(code: number): number {
  return code >= 0 && code <= 255 ? code : 1;
}
