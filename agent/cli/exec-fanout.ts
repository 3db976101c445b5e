import { FanOutAggregate, NodeListResponse, type DirectiveView, type FanOutTarget } from "../../protocol/api.ts";
import { counted, outcomeCounts } from "../../protocol/directive-summary.ts";
import { CliError } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import { failureLine } from "./directive-requests.ts";
import { followEvents } from "./follow-events.ts";
import { json } from "./format.ts";
import type { HubClient } from "./hub-client.ts";
import { LinePrefixer } from "./line-prefixer.ts";

/** The hub names a streamed fan-out in this response header, before any event, so Ctrl-C can cancel it at once. */
const FANOUT_HEADER = "x-cortex-fanout";

/**
 * Runs a bash directive on many nodes with their output interleaved line by line under each node's name, then
 * prints the aggregate on stderr. Returns 0 only when every node succeeded.
 */
export async function execFanOut(
  cli: CliContext,
  client: HubClient,
  target: FanOutTarget,
  params: Record<string, unknown>,
  concurrency: number | undefined,
  asJson = false,
): Promise<number> {
  const label = asJson ? (id: string) => id : await nodeLabels(client, target);
  const prefixer = new LinePrefixer((stream, text) => (stream === "stderr" ? cli.err(text) : cli.out(text)), label);
  const streamed = new Set<string>();
  const results: DirectiveView[] = [];
  let fanoutId: string | null = null;
  let aggregate: FanOutAggregate | undefined;

  const body = { action: "bash", params, target, concurrency };
  const outcome = await followEvents(cli, client, client.sitePath("fanouts"), body, {
    opened(headers) {
      fanoutId = headers.get(FANOUT_HEADER);
    },
    event(event) {
      if (event.event === "chunk" && !asJson) {
        streamed.add(event.nodeId);
        prefixer.push(event.nodeId, event.stream ?? "stdout", event.chunk);
      } else if (event.event === "result") {
        const view = event.directive;
        results.push(view);
        if (asJson) return;
        // A node that answered without stream chunks still has its output in the record.
        if (!streamed.has(view.nodeId) && view.output) prefixer.push(view.nodeId, "stdout", view.output);
        prefixer.flush(view.nodeId);
      } else if (event.event === "aggregate") {
        aggregate = event.aggregate;
      }
    },
    cancelTarget: () =>
      fanoutId === null ? undefined : { path: client.sitePath("fanouts", fanoutId, "cancel"), schema: FanOutAggregate, what: `fan-out ${fanoutId}` },
  });
  if (outcome === "interrupted") return 130;
  if (!aggregate) {
    const hint = fanoutId ? `; see \`cortex directive list --fanout ${fanoutId}\`` : "";
    throw new CliError(`the hub ended the event stream before the fan-out finished${hint}`);
  }
  if (asJson) cli.out(json({ fanoutId: aggregate.fanoutId, aggregate, directives: results }));
  else cli.err(summary(aggregate, results, (id) => label(id).trimEnd()));
  return aggregate.succeeded === aggregate.total ? 0 : 1;
}

/** Node names padded to one width, so prefixed lines line up; ids stand in for nodes the list does not know. */
async function nodeLabels(client: HubClient, target: FanOutTarget): Promise<(id: string) => string> {
  const { nodes } = await client.request("GET", client.sitePath("nodes"), NodeListResponse);
  const names = new Map(nodes.map((n) => [n.id, n.name]));
  const targeted =
    "nodes" in target ? target.nodes : nodes.filter((n) => n.status !== "deregistered" && ("all" in target || n.group === target.group)).map((n) => n.id);
  const width = Math.max(0, ...targeted.map((id) => (names.get(id) ?? id).length));
  return (id) => (names.get(id) ?? id).padEnd(width);
}

/** `3 nodes: 2 succeeded, 1 failed; 2 offline nodes not asked`, then one line per node that did not succeed. */
function summary(aggregate: FanOutAggregate, results: DirectiveView[], label: (id: string) => string): string {
  const skipped = aggregate.skippedOffline ? `; ${counted(aggregate.skippedOffline, "offline node")} not asked` : "";
  const head = `${counted(aggregate.total, "node")}: ${outcomeCounts(aggregate).join(", ")}${skipped}\n`;
  const failures = results.filter((view) => view.status !== "done").map((view) => `  ${failureLine(view, label(view.nodeId))}\n`);
  return head + failures.join("");
}
