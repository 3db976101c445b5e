import { isAbsolute, resolve } from "node:path";
import { Option, type Command } from "commander";
import { nodeIdOfToken } from "../../protocol/node-token.ts";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { AgentOptions } from "../connection/agent-options.ts";
import { guardedLogger, stderrLogger } from "../connection/logger.ts";
import { EXIT_REFUSED } from "../connection/exit-codes.ts";
import { readTokenFile, TokenFileError } from "../connection/token-file.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import { loadConfigFile } from "./config-file.ts";
import { nodeId, positiveInt } from "./option-parsers.ts";
import type { GlobalOptions } from "./settings.ts";

interface ConnectFlags {
  endpoint?: string;
  token?: string;
  tokenFile?: string;
  id?: string;
  tier?: CapabilityTier;
  group?: string;
  name?: string;
  reconnectMs?: number;
  heartbeatMs?: number;
  timeoutMs?: number;
  sandbox?: string;
  stateDir?: string;
  runAs?: string;
}

const HELP = `
Each setting comes from its flag, else the environment (CORTEX_ENDPOINT, CORTEX_NODE_TOKEN_FILE, CORTEX_NODE_TOKEN,
CORTEX_RUN_AS), else the "connect" section of the config file (same names as the options, in camelCase: tokenFile,
reconnectMs, sandboxRoot, stateDir, runAs...). --endpoint may be the hub's URL, a site's URL
(https://hub/api/sites/<site>) or the full connect URL. Keep the token in a file only you can read (chmod 600) and
name it with --token-file: a token on the command line shows in \`ps\`, one in the environment is readable in /proc.
A looser token file is refused.

An agent started as root at tier sudo or unprivileged runs every action as the --run-as user, and refuses to start
(exit 78) without one it can switch to. At tier root actions run as root. An agent that is not root runs actions as
itself: it cannot switch users.

The agent stays connected, reconnecting with backoff, until Ctrl-C or a definite refusal by the hub (bad or
rotated token, deregistered node, tier above the node's ceiling), after which it exits 78 with the reason.

Example:
  cortex node connect --endpoint https://hub.example.com/api/sites/default --token-file ~/.config/cortex/build-01.token --tier sudo

On a machine outside a checkout, install the agent from the hub instead: see \`cortex node register\`.
`;

export function addConnectCommand(node: Command, cli: CliContext): void {
  node
    .command("connect")
    .description("run this machine as a node: dial out to the hub and run the directives it sends")
    .option("--endpoint <url>", "hub URL to connect to")
    .option("--token-file <file>", "file holding the node's token from `cortex node register` or `rekey` (mode 0600)")
    .option("--token <token>", "the node's token itself (shows in the process list: prefer --token-file)")
    .option("--id <id>", "node id (default: the one carried in the token)", nodeId)
    .addOption(new Option("--tier <tier>", "tier to run at, at most the registered ceiling (default unprivileged)").choices(CapabilityTier.options))
    .option("--group <group>", "group to report")
    .option("--name <name>", "name to report (default: the hostname)")
    .option("--reconnect-ms <ms>", "base delay before reconnecting", positiveInt)
    .option("--heartbeat-ms <ms>", "heartbeat interval", positiveInt)
    .option("--timeout-ms <ms>", "connect timeout", positiveInt)
    .option("--sandbox <dir>", "the folder an unprivileged node is confined to (default /tmp/cortex-sandbox)")
    .option("--state-dir <dir>", "where the agent keeps state across restarts (seen directives, long runs, supervised processes and their logs)")
    .option("--run-as <user>", "the OS user actions run as at tiers sudo and unprivileged (needed when the agent runs as root)")
    .addHelpText("after", HELP)
    .action(
      cli.action(async (flags: ConnectFlags, command: Command) => {
        const options = agentOptions(cli, flags, command.optsWithGlobals<GlobalOptions>().config);
        // Loaded here: the agent brings ws, metrics and the action runners, which no other command needs.
        const [{ runAgent, initialSettings }, { DirectiveExecutor }, { startSupervisor }, { connectUrl }, { siteUrlOf }] = await Promise.all([
          import("../connection/run-agent.ts"),
          import("../directives/directive-executor.ts"),
          import("../supervisor/start-supervisor.ts"),
          import("../connection/endpoint.ts"),
          import("../roost/hub-chunk-source.ts"),
        ]);
        const { StartupError } = await import("../privilege/startup-error.ts");
        // Nothing the agent starts gets its environment, but nothing needs the token there either.
        delete process.env.CORTEX_NODE_TOKEN;
        const settings = initialSettings(options, options.id ?? nodeIdOfToken(options.token) ?? "");
        const log = guardedLogger(stderrLogger(), () => [options.token, settings.token]);
        const hub = { siteUrl: siteUrlOf(connectUrl(options.endpoint)), token: () => settings.token };
        let handler: InstanceType<typeof DirectiveExecutor> | undefined;
        try {
          handler = new DirectiveExecutor({ tier: options.tier, sandboxRoot: options.sandboxRoot, runAs: options.runAs, stateDir: options.stateDir, log, hub });
          await handler.check();
        } catch (err) {
          await handler?.shutdown();
          if (!(err instanceof StartupError)) throw err;
          // Like a refusal by the hub: restarting with the same settings would fail the same way.
          throw new CliError(`cannot start: ${err.message}`, EXIT_REFUSED);
        }
        log("info", handler.describe());
        const supervisor = startSupervisor({ ...options, sandboxRoot: handler.sandboxRoot }, log, handler.user);
        handler.attachSupervisor(supervisor);
        // runAgent logs the reason of a refusal itself; the exit code is what a supervisor acts on.
        const exit = await runAgent({ ...options, sandboxRoot: handler.sandboxRoot }, handler, { log, supervisor, settings });
        return exit.code;
      }),
    );
}

function agentOptions(cli: CliContext, flags: ConnectFlags, configPath: string | undefined): AgentOptions {
  const fromConfig = loadConfigFile(cli.io, configPath).connect ?? {};
  const env = cli.io.env;
  const fromEnv = { endpoint: env.CORTEX_ENDPOINT || undefined, runAs: env.CORTEX_RUN_AS || undefined };
  const { sandbox, stateDir, token, tokenFile, ...plain } = flags;
  const fromFlags = {
    ...plain,
    sandboxRoot: sandbox === undefined ? undefined : resolve(cli.io.cwd, sandbox),
    stateDir: stateDir === undefined ? undefined : resolve(cli.io.cwd, stateDir),
  };
  const credential = nodeCredential([
    { token, tokenFile: tokenFile === undefined ? undefined : resolve(cli.io.cwd, tokenFile), names: "--token and --token-file" },
    { token: env.CORTEX_NODE_TOKEN || undefined, tokenFile: env.CORTEX_NODE_TOKEN_FILE || undefined, names: "CORTEX_NODE_TOKEN and CORTEX_NODE_TOKEN_FILE" },
    { token: fromConfig.token, tokenFile: fromConfig.tokenFile, names: "connect.token and connect.tokenFile in the config file" },
  ]);
  const merged = { ...fromConfig, ...defined(fromEnv), ...defined(fromFlags), ...credential };
  if (!merged.endpoint) throw new CliError("no endpoint: pass --endpoint, set CORTEX_ENDPOINT or set connect.endpoint in the config file");
  const parsed = AgentOptions.safeParse(merged);
  if (!parsed.success) throw new CliError(`invalid connect options: ${issuesLine(parsed.error)}`);
  return parsed.data;
}

interface CredentialSource {
  token: string | undefined;
  tokenFile: string | undefined;
  names: string;
}

/** The token from the first source that has one (flags, then environment, then config file), read from its file if named. */
function nodeCredential(sources: CredentialSource[]): { token: string; tokenFile?: string } {
  for (const { token, tokenFile, names } of sources) {
    if (token !== undefined && tokenFile !== undefined) throw new CliError(`${names} are both set: keep only the token file`);
    if (token !== undefined) return { token };
    if (tokenFile === undefined) continue;
    if (!isAbsolute(tokenFile)) throw new CliError(`token file ${tokenFile}: must be an absolute path`);
    try {
      return { token: readTokenFile(tokenFile), tokenFile };
    } catch (error) {
      if (error instanceof TokenFileError) throw new CliError(error.message, EXIT_REFUSED);
      throw error;
    }
  }
  throw new CliError("no token: pass --token-file, set CORTEX_NODE_TOKEN_FILE or set connect.tokenFile in the config file");
}

/** Drops unset values so they do not hide the ones from a lower source when spread over them. */
function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
