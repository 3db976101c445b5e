import { Option, type Command } from "commander";
import type { FanOutTarget } from "../../protocol/api.ts";
import { NodeId } from "../../protocol/identifiers.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import { checkedParams } from "./directive-requests.ts";
import { execFanOut } from "./exec-fanout.ts";
import { execOnNode } from "./exec-single.ts";
import { MAX_BASH_TIMEOUT_MS } from "../../protocol/limits.ts";
import { positiveInt, seconds } from "./option-parsers.ts";

interface ExecOptions {
  all?: boolean;
  group?: string;
  concurrency?: number;
  timeout?: number;
  cwd?: string;
  loginShell: boolean;
  json?: boolean;
}

const HELP = `
Output is printed as it arrives. With one node, cortex exits with the command's own exit code. With several nodes
(a comma-separated list, --group or --all) every line is prefixed with the node's name, a summary goes to stderr,
and cortex exits 1 if any node did not succeed. --all runs on the nodes online now and says how many were offline;
--group and a list count an offline node as one that did not succeed. A command killed by a signal exits 128 + its
number, as in a shell. Ctrl-C cancels the command on the node(s) and exits 130.

Examples:
  cortex exec build-01 -- uname -a
  cortex exec build-01,build-02 -- 'df -h / | tail -1'
  cortex exec --group gpu --concurrency 5 --timeout 60 -- nvidia-smi
`;

export function addExecCommand(program: Command, cli: CliContext): void {
  program
    .command("exec")
    .description("run a shell command on nodes with live output")
    .usage("[options] <node>[,<node>...] -- <command...>\n       cortex exec (--all | --group <group>) [options] -- <command...>")
    .argument("<words...>", "the node(s), unless --all or --group, then the command line")
    .option("--all", "every node of the site that is online (the offline ones are counted in the summary, not asked)")
    .addOption(new Option("--group <group>", "every node of this group").conflicts("all"))
    .option("--concurrency <n>", "most nodes running at once in a fan-out (default 50)", positiveInt)
    .option("--timeout <s>", `stop the command after this many seconds (default 120, at most ${MAX_BASH_TIMEOUT_MS / 1000})`, seconds(MAX_BASH_TIMEOUT_MS))
    .option("--cwd <dir>", "absolute working directory on the node(s)")
    .option("--no-login-shell", "run the command in a plain bash, not a login shell (skips the profile scripts: faster, but without their PATH and environment)")
    .option("--json", "print the directive record (or {fanoutId, aggregate, directives}) as JSON instead of the output")
    .addHelpText("after", HELP)
    .action(
      cli.action(async (words: string[], options: ExecOptions, command: Command) => {
        const fanOutFlag = options.all || options.group !== undefined;
        const nodes = fanOutFlag ? [] : nodeList(words.shift()!);
        if (words.length === 0) throw new CliError("exec needs a command: cortex exec <node> -- <command...>");
        const params = checkedParams("bash", { command: words.join(" "), cwd: options.cwd, timeoutMs: options.timeout, login: options.loginShell ? undefined : false });
        const client = cli.client(command);
        if (nodes.length === 1) {
          if (options.concurrency !== undefined) throw new CliError("--concurrency applies only to several nodes, --group or --all");
          return execOnNode(cli, client, nodes[0]!, params, options.json);
        }
        const target: FanOutTarget = options.all ? { all: true } : options.group !== undefined ? { group: options.group } : { nodes };
        return execFanOut(cli, client, target, params, options.concurrency, options.json);
      }),
    );
}

function nodeList(text: string): string[] {
  const ids = text.split(",").map((id) => {
    const parsed = NodeId.safeParse(id.trim());
    if (!parsed.success) throw new CliError(`invalid node id ${JSON.stringify(id)}: ${issuesLine(parsed.error)}`);
    return parsed.data;
  });
  return [...new Set(ids)];
}
