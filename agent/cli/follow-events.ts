import type { z } from "zod";
import { DirectiveEvent } from "../../protocol/api.ts";
import { revealControls } from "../../protocol/hidden-characters.ts";
import type { CliContext } from "./cli-context.ts";
import type { HubClient } from "./hub-client.ts";

/** How long Ctrl-C waits for the hub to confirm a cancel before exiting anyway. */
const CANCEL_WAIT_MS = 5_000;

/** What a Ctrl-C cancels: the cancel URL path, its answer's schema, and how to name it to the user. */
export interface CancelTarget {
  path: string;
  schema: z.ZodType;
  what: string;
}

export interface EventFollower {
  opened(headers: Headers): void;
  event(event: DirectiveEvent): void;
  /** Undefined until the hub has named what is running. */
  cancelTarget(): CancelTarget | undefined;
}

/**
 * Streams a directive or fan-out into `follower` until the hub ends the stream. The first Ctrl-C asks the hub to
 * cancel the remote work (closing our end alone would leave it running) and then stops with "interrupted".
 */
export async function followEvents(
  cli: CliContext,
  client: HubClient,
  path: string,
  body: unknown,
  follower: EventFollower,
): Promise<"finished" | "interrupted"> {
  const controller = new AbortController();
  let cancelling: Promise<void> | undefined;
  const stopListening = cli.io.onInterrupt(() => {
    cancelling = requestCancel(cli, client, follower.cancelTarget());
    controller.abort();
  });
  try {
    const stream = await client.openStream("POST", path, body, DirectiveEvent, controller.signal);
    follower.opened(stream.headers);
    for await (const event of stream.events) follower.event(event);
    return "finished";
  } catch (error) {
    if (!controller.signal.aborted) throw error;
    await cancelling;
    return "interrupted";
  } finally {
    stopListening();
  }
}

async function requestCancel(cli: CliContext, client: HubClient, target: CancelTarget | undefined): Promise<void> {
  if (!target) {
    cli.err("interrupted before the hub named the directive, so nothing was cancelled; check `cortex directive list`\n");
    return;
  }
  try {
    await client.request("POST", target.path, target.schema, { signal: AbortSignal.timeout(CANCEL_WAIT_MS) });
    cli.err(`cancelled ${target.what}\n`);
  } catch (error) {
    cli.err(`error: could not cancel ${target.what}: ${revealControls((error as Error).message)}\n`);
  }
}
