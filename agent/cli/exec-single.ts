import { constants } from "node:os";
import { DirectiveView } from "../../protocol/api.ts";
import { CliError } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import { failureLine } from "./directive-requests.ts";
import { followEvents } from "./follow-events.ts";
import { asBlock, json } from "./format.ts";
import type { HubClient } from "./hub-client.ts";

/** Runs a bash directive on one node with its output streamed as it comes; returns the remote exit code. */
export async function execOnNode(cli: CliContext, client: HubClient, node: string, params: Record<string, unknown>, asJson = false): Promise<number> {
  let directiveId: string | undefined;
  let result: DirectiveView | undefined;
  let streamed = false;
  const outcome = await followEvents(cli, client, client.sitePath("nodes", node, "directives"), { action: "bash", params }, {
    opened: (headers) => {
      directiveId = headers.get("X-Cortex-Directive") ?? undefined;
    },
    event(event) {
      if (event.event === "chunk") {
        directiveId = event.directiveId;
        streamed = true;
        if (asJson) return;
        if (event.stream === "stderr") cli.err(event.chunk);
        else cli.out(event.chunk);
      } else if (event.event === "status") {
        directiveId = event.directiveId;
      } else if (event.event === "result") {
        result = event.directive;
      }
    },
    cancelTarget: () =>
      directiveId === undefined
        ? undefined
        : { path: client.sitePath("directives", directiveId, "cancel"), schema: DirectiveView, what: `directive ${directiveId}` },
  });
  if (outcome === "interrupted") return 130;
  if (!result) {
    const hint = directiveId ? `; see \`cortex directive show ${directiveId}\`` : "";
    throw new CliError(`the hub ended the event stream before the directive finished${hint}`);
  }
  if (asJson) cli.out(json(result));
  // A node that answered without stream chunks still has its output in the record.
  else if (!streamed && result.output) cli.out(asBlock(result.output));
  return exitCodeOf(cli, result);
}

/**
 * The command's own exit code when it ran, and 128 + the signal's number when a signal killed it, as a shell would
 * report it; otherwise 1 and the reason (offline, refused, timed out...) on stderr.
 */
function exitCodeOf(cli: CliContext, result: DirectiveView): number {
  if (result.status === "done") return result.exitCode ?? 0;
  if (result.status === "failed" && result.exitCode) return result.exitCode;
  cli.err(`error: ${failureLine(result)}\n`);
  const signal = result.signal ? signalNumber(result.signal) : undefined;
  if (result.status === "failed" && signal !== undefined) return 128 + signal;
  return result.exitCode || 1;
}

/** The number of a signal by its name, as this system numbers it (the POSIX ones agree everywhere that matters). */
function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number | undefined>)[name];
}
