import type { Command } from "commander";
import { RunRecord, type DirectiveView } from "../../protocol/api.ts";
import { revealControls } from "../../protocol/hidden-characters.ts";
import { MAX_STALL_TIMEOUT_MS } from "../../protocol/limits.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { outputText, reportDirective } from "./directive-report.ts";
import { failureLine, runDirective } from "./directive-requests.ts";
import { asBlock, json, when } from "./format.ts";
import { HubError, type HubClient } from "./hub-client.ts";
import { nodeId, seconds } from "./option-parsers.ts";

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
    .option(
      "--stall-timeout <s>",
      `stop the run after this many seconds without output (default 600, at most ${MAX_STALL_TIMEOUT_MS / 1000})`,
      seconds(MAX_STALL_TIMEOUT_MS),
    )
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
    .description("show the state of a run and the tail of its output (a run that ended is read from the hub, so the node may be offline)")
    .argument("<node>", "node id", nodeId)
    .argument("<runId>", "run id printed by `cortex run launch`")
    .option("--json", "print the hub's run record, or the directive record when the node was asked")
    .action(
      cli.action(async (node: string, runId: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const record = await hubRecord(client, node, runId);
        if (record?.ended) {
          if (options.json) return cli.out(json(record));
          cli.out(endedText(record));
          cli.err(`note: from the hub's record; the run ended ${when(record.ended.endedAt)}\n`);
          return 0;
        }
        const view = await runDirective(client, node, "run.status", { runId });
        if (view.errorCode === "offline" && !options.json) return offlineReport(cli, view, record);
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
        if (options.json) return reportDirective(cli, view, true);
        // The agent's text says the same as the run state in `data`: print the outcome once.
        if (view.status === "done") {
          cli.out(view.data?.kind === "run_status" ? stateLine(view.data) : outputText(view));
          return 0;
        }
        cli.err(`error: ${failureLine(view)}\n`);
        return 1;
      }),
    );
}

/** What the hub itself knows of the run, or null when it knows nothing (a run launched before it kept records). */
async function hubRecord(client: HubClient, node: string, runId: string): Promise<RunRecord | null> {
  try {
    return await client.request("GET", client.sitePath("nodes", node, "runs", runId), RunRecord);
  } catch (error) {
    if (error instanceof HubError && error.status === 404 && (error.code === "run_not_found" || error.code === "not_found")) return null;
    throw error;
  }
}

/** The node is offline and no end was reported: say what the hub knows, and that the state now is unknown. */
function offlineReport(cli: CliContext, view: DirectiveView, record: RunRecord | null): number {
  const launched = record?.launchedAt ? ` It was launched ${when(record.launchedAt)}${record.launchedBy ? ` by ${record.launchedBy}` : ""}.` : "";
  cli.err(`error: ${view.nodeId} is offline and the hub has no report of the run ending, so its state now is unknown.${launched}\n`);
  return 1;
}

function launchedText(view: DirectiveView, node: string): string {
  if (view.data?.kind !== "run") return outputText(view);
  const pid = view.data.pid === undefined ? "" : ` (pid ${view.data.pid})`;
  // The run id is the node's word.
  return revealControls(`Started run ${view.data.runId}${pid} on ${node}.\nFollow it with: cortex run status ${node} ${view.data.runId}\n`);
}

/** The run id and reason are the node's words, so their controls are shown rather than acted on. */
function stateLine(s: { runId: string; state: string; exitCode: number | null; reason?: string | null }): string {
  const exit = s.exitCode === null ? "" : `, exit ${s.exitCode}`;
  return revealControls(`run ${s.runId}: ${s.state}${exit}${s.reason ? ` (${s.reason})` : ""}\n`);
}

function runStatusText(view: DirectiveView): string {
  if (view.data?.kind !== "run_status") return outputText(view);
  return `${stateLine(view.data)}${outputText(view)}`;
}

function endedText(record: RunRecord): string {
  const ended = record.ended!;
  const tail = ended.outputWithheld ? "(its output is withheld: only a site admin reads what a run printed)\n" : asBlock(ended.outputTail);
  return `${stateLine({ runId: record.runId, ...ended })}${tail}`;
}
