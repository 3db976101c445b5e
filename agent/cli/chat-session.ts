import { ChatEvent, ConversationSummary, SendMessageResponse, ToolCallView, TurnView, type ChatTarget, type Usage } from "../../protocol/chat.ts";
import { ChatPrinter, costText } from "./chat-output.ts";
import { CliError } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import type { HubClient } from "./hub-client.ts";

export interface ChatOptions {
  node?: string;
  all?: boolean;
  conversation?: string;
  model?: string;
  yes?: boolean;
  no?: boolean;
  json?: boolean;
  continue?: boolean;
}

/** Exit codes of `cortex chat`. */
export const CHAT_EXIT = { answered: 0, failed: 1, paused: 2, interrupted: 130 } as const;

/** How long Ctrl-C waits for the hub to confirm the stop before exiting anyway. */
const STOP_WAIT_MS = 5_000;

type Done = Extract<ChatEvent, { type: "done" }>;

function targetOf(options: ChatOptions): ChatTarget | undefined {
  if (options.node && options.all) throw new CliError("choose one target: --node ID or --all");
  if (options.node) return { node: options.node };
  return options.all ? { all: true } : undefined;
}

/** The conversation to talk in: the one named (re-targeted or re-modelled if asked), or a new one. */
async function conversationFor(client: HubClient, options: ChatOptions, target: ChatTarget | undefined): Promise<string> {
  if (options.conversation) {
    const change = { ...(target ? { target } : {}), ...(options.model ? { model: options.model } : {}) };
    if (Object.keys(change).length) await client.request("PATCH", client.sitePath("conversations", options.conversation), ConversationSummary, { body: change });
    return options.conversation;
  }
  if (!target) throw new CliError("choose a target: --node ID for one machine, or --all for every online machine of the site");
  const created = await client.request("POST", client.sitePath("conversations"), ConversationSummary, {
    body: { target, ...(options.model ? { model: options.model } : {}) },
  });
  return created.id;
}

/**
 * One question (or a `--continue`) in a conversation, followed to the end of the answer. The event stream is opened
 * first and read up to `synced`, so nothing the answer does is missed; then the message is sent. Tier-3 tool calls are
 * put to the user (or decided by --yes / --no); Ctrl-C asks the hub to stop the answer.
 */
export async function runChat(cli: CliContext, client: HubClient, question: string | undefined, options: ChatOptions): Promise<number> {
  if (options.yes && options.no) throw new CliError("choose one of --yes and --no");
  if (options.continue && !options.conversation) throw new CliError("--continue needs --conversation ID");
  if (!options.continue && !question?.trim()) throw new CliError('ask something: cortex chat --node ID "question"');
  if (options.continue && question) throw new CliError("--continue takes no question");
  const id = await conversationFor(client, options, targetOf(options));
  const printer = new ChatPrinter(cli, options.json === true);
  const controller = new AbortController();
  const path = (...rest: string[]) => client.sitePath("conversations", id, ...rest);

  let stopping: Promise<unknown> | null = null;
  const stopListening = cli.io.onInterrupt(() => {
    printer.note("stopping the answer…");
    stopping = client.request("POST", path("stop"), TurnView, { signal: AbortSignal.timeout(STOP_WAIT_MS) }).catch((error: Error) => {
      printer.note(`error: could not stop the answer: ${error.message}`);
      controller.abort();
    });
  });
  try {
    const stream = await client.openStream("GET", path("events"), undefined, ChatEvent, controller.signal);
    const events = stream.events;
    for (;;) {
      const next = await events.next();
      if (next.done) throw new CliError("the hub closed the conversation's event stream before it was ready");
      if (next.value.type === "synced") break;
    }
    if (options.continue) await client.request("POST", path("continue"), TurnView);
    else await client.request("POST", path("messages"), SendMessageResponse, { body: { text: question!.trim() } });

    let total: Usage | null = null;
    for (;;) {
      const done = await follow(cli, client, printer, events, id, options, (usage) => (total = usage));
      if (done === null) {
        if (stopping) return CHAT_EXIT.interrupted;
        throw new CliError("the hub closed the conversation's event stream before the answer ended");
      }
      printer.finish();
      if (printer.asJson) printer.line({ type: "done", conversationId: id, status: done.status, canContinue: done.canContinue, note: done.note });
      else {
        if (done.note) printer.note(done.note);
        if (total) printer.note(`(${costText(total)})`);
        printer.note(`conversation ${id}`);
      }
      if (done.status === "step_limit" && !printer.asJson && cli.io.ask && !stopping) {
        const answer = await cli.io.ask("Continue? [y/N] ");
        if (/^y(es)?$/i.test(answer.trim())) {
          await client.request("POST", path("continue"), TurnView);
          continue;
        }
      }
      if (done.status === "step_limit" && !printer.asJson) printer.note(`continue with: cortex chat --conversation ${id} --continue`);
      return exitCodeOf(done, stopping !== null);
    }
  } finally {
    stopListening();
    controller.abort();
  }
}

function exitCodeOf(done: Done, interrupted: boolean): number {
  if (interrupted && done.status === "stopped") return CHAT_EXIT.interrupted;
  if (done.status === "done") return CHAT_EXIT.answered;
  if (done.status === "step_limit") return CHAT_EXIT.paused;
  return CHAT_EXIT.failed;
}

/** Prints events until the answer's `done`; null when the stream ended first. */
async function follow(
  cli: CliContext,
  client: HubClient,
  printer: ChatPrinter,
  events: AsyncGenerator<ChatEvent>,
  id: string,
  options: ChatOptions,
  onTotal: (usage: Usage) => void,
): Promise<Done | null> {
  for (;;) {
    const next = await events.next();
    if (next.done) return null;
    const event = next.value;
    if (event.type === "done") return event;
    if (event.type === "usage") onTotal(event.total);
    if (event.type === "confirmation") {
      await confirm(cli, client, printer, id, event.toolCall, options);
      continue;
    }
    if (event.type === "deleted") throw new CliError("the conversation was deleted");
    printer.event(event);
  }
}

/** Puts a tier-3 tool call to the user, or decides it by --yes / --no; without a terminal or a flag, denies it. */
async function confirm(cli: CliContext, client: HubClient, printer: ChatPrinter, id: string, call: ToolCallView, options: ChatOptions): Promise<void> {
  let approve: boolean;
  if (options.yes || options.no) {
    approve = options.yes === true;
    if (!printer.asJson) printer.note(`${approve ? "approved" : "denied"} ${call.name} (${approve ? "--yes" : "--no"})`);
  } else if (cli.io.ask) {
    printer.note("");
    approve = /^y(es)?$/i.test((await cli.io.ask(printer.question(call))).trim());
  } else {
    approve = false;
    if (!printer.asJson) printer.note(`denied ${call.name}: there is no terminal to ask on (pass --yes to approve tier-3 tools, --no to deny them)`);
  }
  if (printer.asJson) printer.line({ type: "confirmation", toolCall: call, decision: approve ? "approved" : "denied" });
  await client.request("POST", client.sitePath("conversations", id, "confirmations", call.id), ToolCallView, { body: { approve } });
}
