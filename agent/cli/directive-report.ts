import type { DirectiveView } from "../../protocol/api.ts";
import type { CliContext } from "./cli-context.ts";
import { failureLine } from "./directive-requests.ts";
import { asBlock, bytes, json } from "./format.ts";

/**
 * Prints a finished directive (as JSON, or its output through `render`) and returns the exit code: 0 when it is
 * done, else 1 with the reason on stderr.
 */
export function reportDirective(cli: CliContext, view: DirectiveView, asJson: boolean | undefined, render = outputText): number {
  if (asJson) cli.out(json(view));
  else if (view.status === "done") cli.out(render(view));
  else if (view.output) cli.out(outputText(view));
  if (!asJson && view.truncated) cli.err(`note: output truncated; the node produced ${bytes(view.outputBytes)}\n`);
  if (view.status === "done") return 0;
  cli.err(`error: ${failureLine(view)}\n`);
  return 1;
}

export function outputText(view: DirectiveView): string {
  return asBlock(view.output ?? "");
}
