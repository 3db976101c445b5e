import type { Command } from "commander";
import type { DirectiveView } from "../../protocol/api.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { outputText, reportDirective } from "./directive-report.ts";
import { runDirective } from "./directive-requests.ts";
import { nodeId, secondsToMs } from "./option-parsers.ts";

export function addRunCommands(program: Command, cli: CliContext): void {
  const run = program
    .command("run")
    .description("long-running jobs on a node: they outlive the connection and are stopped if they stall");

  run
    .command("launch")
    .description("start a long-running command on a node and print its run id")
    .argument("<node>", "node id", nodeId)
    .argument("<command...>", "command line, after `--`")
    .option("--name <name>", "label for the run")
    .option("--cwd <dir>", "absolute working directory on the node")
    .option("--stall-timeout <s>", "stop the run after this many seconds without output (default 600)", secondsToMs)
    .option("--json", "print the directive record as JSON")
    .addHelpText("after", "\nExample:\n  cortex run launch gpu-01 --name train -- python train.py --epochs 10\n")
    .action(
      cli.action(async (node: string, words: string[], options: JsonOption & { name?: string; cwd?: string; stallTimeout?: number }, command: Command) => {
        const params = { command: words.join(" "), name: options.name, cwd: options.cwd, stallTimeoutMs: options.stallTimeout };
        const view = await runDirective(cli.client(command), node, "run.launch", params);
        return reportDirective(cli, view, options.json, (v) => launchedText(v, node));
      }),
    );

  run
    .command("status")
    .description("show the state of a run and the tail of its output")
    .argument("<node>", "node id", nodeId)
    .argument("<runId>", "run id printed by `cortex run launch`")
    .option("--json", "print the directive record as JSON")
    .action(
      cli.action(async (node: string, runId: string, options: JsonOption, command: Command) => {
        const view = await runDirective(cli.client(command), node, "run.status", { runId });
        return reportDirective(cli, view, options.json, runStatusText);
      }),
    );

  run
    .command("cancel")
    .description("stop a run and its whole process tree")
    .argument("<node>", "node id", nodeId)
    .argument("<runId>", "run id printed by `cortex run launch`")
    .option("--json", "print the directive record as JSON")
    .action(
      cli.action(async (node: string, runId: string, options: JsonOption, command: Command) => {
        const view = await runDirective(cli.client(command), node, "run.cancel", { runId });
        return reportDirective(cli, view, options.json, runStatusText);
      }),
    );
}

function launchedText(view: DirectiveView, node: string): string {
  if (view.data?.kind !== "run") return outputText(view);
  const pid = view.data.pid === undefined ? "" : ` (pid ${view.data.pid})`;
  return `Started run ${view.data.runId}${pid} on ${node}.\nFollow it with: cortex run status ${node} ${view.data.runId}\n`;
}

function runStatusText(view: DirectiveView): string {
  if (view.data?.kind !== "run_status") return outputText(view);
  const { runId, state, exitCode, reason } = view.data;
  const exit = exitCode === null ? "" : `, exit ${exitCode}`;
  return `run ${runId}: ${state}${exit}${reason ? ` (${reason})` : ""}\n${outputText(view)}`;
}
