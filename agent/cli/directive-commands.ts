import { Option, type Command } from "commander";
import { DirectiveListResponse, DirectiveView } from "../../protocol/api.ts";
import { ActionName, DirectiveStatus } from "../../protocol/directives.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { directiveSubject } from "./directive-requests.ts";
import { ago, asBlock, bytes, duration, facts, json, table, when } from "./format.ts";
import { nodeId, positiveInt } from "./option-parsers.ts";

interface ListOptions extends JsonOption {
  node?: string;
  status?: DirectiveStatus;
  action?: ActionName;
  fanout?: string;
  before?: number;
  limit?: number;
}

export function addDirectiveCommands(program: Command, cli: CliContext): void {
  const directive = program.command("directive").description("the record of directives sent to nodes");

  directive
    .command("list")
    .description("list recent directives, newest first")
    .option("--node <id>", "only directives sent to this node", nodeId)
    .addOption(new Option("--status <status>", "only directives with this status").choices(DirectiveStatus.options))
    .addOption(new Option("--action <action>", "only directives of this action").choices(ActionName.options))
    .option("--fanout <id>", "only the directives of this fan-out")
    .option("--before <cursor>", "the page before this cursor (printed under a full page)", positiveInt)
    .option("--limit <n>", "how many to list (default 50, at most 500)", positiveInt)
    .option("--json", "print {directives, nextBefore} as JSON")
    .action(
      cli.action(async (options: ListOptions, command: Command) => {
        const client = cli.client(command);
        const query = { node: options.node, status: options.status, action: options.action, fanout: options.fanout, before: options.before, limit: options.limit };
        const page = await client.request("GET", client.sitePath("directives"), DirectiveListResponse, { query });
        if (options.json) return cli.out(json(page));
        if (page.directives.length === 0) return cli.out("No directives.\n");
        cli.out(table(["id", "node", "action", "status", "exit", "created", "took", "subject"], page.directives.map(directiveRow)));
        if (page.nextBefore !== null) cli.out(`More: cortex directive list --before ${page.nextBefore}\n`);
      }),
    );

  directive
    .command("show")
    .description("show one directive with its output")
    .argument("<id>", "directive id")
    .option("--json", "print the directive record as JSON")
    .action(
      cli.action(async (id: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const view = await client.request("GET", client.sitePath("directives", id), DirectiveView);
        if (options.json) return cli.out(json(view));
        cli.out(facts(directiveFacts(view)));
        if (view.output) cli.out(`\n${asBlock(view.output)}`);
      }),
    );
}

function took(view: DirectiveView): string {
  const start = view.startedAt ?? view.sentAt;
  return start !== null && view.endedAt !== null ? duration(view.endedAt - start) : "";
}

function directiveRow(view: DirectiveView): string[] {
  return [view.id, view.nodeId, view.action, view.status, view.exitCode === null ? "" : String(view.exitCode), ago(view.createdAt), took(view), directiveSubject(view)];
}

function directiveFacts(view: DirectiveView): [string, string][] {
  const rows: [string, string][] = [
    ["id", view.id],
    ["node", view.nodeId],
    ["action", view.action],
    ["params", JSON.stringify(view.params)],
    ["status", view.status],
    ["exit code", view.exitCode === null ? (view.signal ? `— (killed by ${view.signal})` : "—") : String(view.exitCode)],
    ["requested by", view.requestedBy],
    ["created", when(view.createdAt)],
    ["sent", when(view.sentAt)],
    ["started", when(view.startedAt)],
    ["ended", when(view.endedAt)],
    ["timeout", duration(view.timeoutMs)],
    ["output", `${bytes(view.outputBytes)}${view.truncated ? " (truncated)" : ""}${view.outputWithheld ? " (withheld: shown to site admins and its requester only)" : ""}`],
  ];
  if (view.fanoutId) rows.splice(2, 0, ["fan-out", view.fanoutId]);
  if (view.error) rows.push(["error", `${view.error}${view.errorCode ? ` (${view.errorCode})` : ""}`]);
  if (view.data) rows.push(["data", view.data.kind === "image" ? `${view.data.mediaType} image` : JSON.stringify(view.data)]);
  return rows;
}
