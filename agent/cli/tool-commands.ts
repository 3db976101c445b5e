import type { Command } from "commander";
import { DirectiveView } from "../../protocol/api.ts";
import { prepareToolCall, TOOL_CATALOG, TOOL_NAMES, toolTier } from "../../protocol/tools/index.ts";
import { CliError } from "./cli-error.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { reportDirective } from "./directive-report.ts";
import { json, table } from "./format.ts";
import { nodeId } from "./option-parsers.ts";

/** The description's first sentence, cut to fit a table. */
function summary(description: string): string {
  const first = description.split(". ")[0]!.replace(/\.$/, "");
  return first.length > 70 ? `${first.slice(0, 69)}…` : first;
}

function parseInput(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`the tool input must be a JSON object: ${(err as Error).message}`);
  }
}

/**
 * The chat's tool catalog from the terminal: list the tools, and run an agent-side one on a node with the same
 * input a model would give. Nothing is offered or refused here by risk: the hub decides, by who the key belongs to.
 */
export function addToolCommands(program: Command, cli: CliContext): void {
  program
    .command("tools")
    .description("list the tools the AI chat can offer, with their risk tier and where they run")
    .option("--json", "print the catalog as JSON")
    .action((options: JsonOption) => {
      const tools = TOOL_NAMES.map((name) => TOOL_CATALOG[name]);
      if (options.json) {
        cli.out(json(tools.map((t) => ({ name: t.name, tier: toolTier(t), runs: t.runs.on === "agent" ? { on: "agent", action: t.runs.action, platforms: t.runs.platforms } : t.runs, description: t.description }))));
        return;
      }
      cli.out(table(["TOOL", "TIER", "RUNS", "DESCRIPTION"], tools.map((t) => [t.name, String(toolTier(t)), t.runs.on === "agent" ? `agent: ${t.runs.action}` : "hub", summary(t.description)])));
    });

  program
    .command("tool")
    .description("run an agent-side chat tool on a node, e.g. cortex tool get_logs web-3 '{\"unit\":\"nginx\"}'")
    .argument("<name>", "tool name (see cortex tools)")
    .argument("<node>", "node id", nodeId)
    .argument("[input]", "the tool's input as a JSON object")
    .option("--json", "print the directive record as JSON")
    .action(
      cli.action(async (name: string, node: string, input: string | undefined, options: JsonOption, command: Command) => {
        const prepared = prepareToolCall(name, parseInput(input), { riskCap: 3 });
        if (!prepared.ok) throw new CliError(prepared.message);
        if (prepared.run.on === "hub") throw new CliError(`${name} is answered by the hub inside a chat, not by a node`);
        const client = cli.client(command);
        const view = await client.request("POST", client.sitePath("nodes", node, "directives"), DirectiveView, { body: prepared.run.call });
        return reportDirective(cli, view, options.json);
      }),
    );
}
