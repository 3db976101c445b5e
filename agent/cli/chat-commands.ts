import { InvalidArgumentError, Option, type Command } from "commander";
import { ConversationId, ConversationListResponse, type ConversationSummary } from "../../protocol/chat.ts";
import { LlmKeyResponse, LlmProvider, ModelName, SetLlmKeyRequest, type LlmKeyView } from "../../protocol/llm.ts";
import { costText } from "./chat-output.ts";
import { runChat, type ChatOptions } from "./chat-session.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { ago, facts, json, table } from "./format.ts";
import type { HubClient } from "./hub-client.ts";
import { nodeId } from "./option-parsers.ts";
import { readSecret } from "./secret-input.ts";

function conversationId(value: string): string {
  const parsed = ConversationId.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

function modelName(value: string): string {
  const parsed = ModelName.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

function targetText(c: ConversationSummary): string {
  return "node" in c.target ? c.target.node : "all machines";
}

const CHAT_HELP = `
Without --conversation a new conversation is started (with --node or --all). The answer's text goes to stdout as it
streams; tool calls, confirmations and notes go to stderr. Tier-3 tools (shell commands, file writes, reboots) are
asked about on the terminal (y/N); --yes approves them all, --no denies them all, and without a terminal they are
denied. Ctrl-C stops the answer (the model stream and any directive it started).

With --json, stdout has one JSON object per line, with a type of text, tool_call, tool_result, confirmation, usage,
done or error.

Exit codes: 0 answered, 1 failed (provider error, no key, stopped by someone else), 2 paused at the site's step limit
(continue with --conversation ID --continue), 130 stopped with Ctrl-C.
`;

/** `cortex chat`: ask the site's AI about one machine or all of them, and list conversations. */
export function addChatCommands(program: Command, cli: CliContext): void {
  const chat = program
    .command("chat")
    .description("ask the AI about one machine (--node) or every online machine (--all); `cortex chat list` lists conversations")
    .argument("[question...]", "what to ask")
    .option("--node <id>", "ask about this machine", nodeId)
    .option("--all", "ask about every online machine of the site")
    .option("--conversation <id>", "continue this conversation", conversationId)
    .option("--model <model>", "use this model for the conversation instead of the key's", modelName)
    .option("--yes", "approve every tier-3 tool call")
    .option("--no", "deny every tier-3 tool call")
    .option("--continue", "let an answer paused at the step limit go on (with --conversation)")
    .option("--json", "print one JSON object per event")
    .addHelpText("after", CHAT_HELP)
    .action(
      cli.action(async (words: string[], options: ChatOptions, command: Command) => {
        const question = words.join(" ").trim();
        return runChat(cli, cli.client(command), question || undefined, options);
      }),
    );

  chat
    .command("list")
    .description("list conversations, newest first (site admins see everyone's; --mine for your own)")
    .option("--mine", "only your own conversations")
    .option("--json", "print {conversations, nextBefore} as JSON")
    .action(
      cli.action(async (options: JsonOption & { mine?: boolean }, command: Command) => {
        const client = cli.client(command);
        const list = await client.request("GET", client.sitePath("conversations"), ConversationListResponse, { query: { mine: options.mine ? "1" : undefined, limit: 100 } });
        if (options.json) return cli.out(json(list));
        if (!list.conversations.length) return cli.out("No conversations yet.\n");
        const rows = list.conversations.map((c) => [c.id, c.title.slice(0, 40), targetText(c), c.status ?? "new", ago(c.updatedAt), c.ownerLabel, costText(c.usage)]);
        cli.out(table(["id", "title", "target", "status", "updated", "owner", "usage"], rows));
      }),
    );
}

interface LlmOptions extends JsonOption {
  siteKey?: boolean;
}

function keyPath(client: HubClient, siteKey: boolean | undefined): string {
  return siteKey ? client.sitePath("llm-key") : "/api/account/llm-key";
}

function keyFacts(key: LlmKeyView): [string, string][] {
  return [
    ["scope", key.scope === "site" ? "site (the fallback for people without their own key)" : "personal"],
    ["provider", key.provider],
    ["model", key.model],
    ["base URL", key.baseUrl ?? "(the provider's)"],
    ["key", `…${key.last4}`],
    ["saved", `${new Date(key.updatedAt).toISOString()} (${ago(key.updatedAt)}) by ${key.updatedBy}`],
  ];
}

const LLM_SET_HELP = `
The key is read from the terminal without echo, or from the first line of standard input when that is not a
terminal (printf '%s' "$ANTHROPIC_API_KEY" | cortex llm set --provider anthropic --model claude-sonnet-5-5).
--key also works, but a key on the command line is visible to other users in the process list and stays in your
shell history: prefer the prompt or standard input.

A self-hosted model: --provider openai-compatible --base-url http://127.0.0.1:11434/v1 --model llama3.1 (Ollama; any
non-empty key). The key is stored encrypted; the hub never shows it again, only its last four characters.
`;

/** `cortex llm`: the caller's own AI key, or the site's with --site-key (site admins). */
export function addLlmCommands(program: Command, cli: CliContext): void {
  const llm = program.command("llm").description("set, show or clear your AI key (or the site's with --site-key)");

  llm
    .command("set")
    .description("save an AI provider key")
    .option("--site-key", "the site's key (site admins) instead of your own")
    .addOption(new Option("--provider <provider>", "who serves the model").choices(LlmProvider.options).makeOptionMandatory())
    .requiredOption("--model <model>", "model to use by default", modelName)
    .option("--key <key>", "the API key (visible in the process list: prefer the prompt or standard input)")
    .option("--base-url <url>", "the provider's API base URL (gateways, self-hosted servers)")
    .option("--json", "print the saved key's description as JSON")
    .addHelpText("after", LLM_SET_HELP)
    .action(
      cli.action(async (options: LlmOptions & { provider: string; model: string; key?: string; baseUrl?: string }, command: Command) => {
        const client = cli.client(command);
        const key = (options.key ?? (await readSecret(`${options.provider} API key: `))).trim();
        const body = SetLlmKeyRequest.safeParse({ provider: options.provider, model: options.model, key, ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}) });
        if (!body.success) throw new CliError(`invalid key settings: ${issuesLine(body.error).replaceAll(key, "[key]")}`);
        const saved = await client.request("PUT", keyPath(client, options.siteKey), LlmKeyResponse, { body: body.data });
        if (options.json) return cli.out(json(saved));
        cli.out(`Saved the ${options.siteKey ? "site's" : "personal"} ${body.data.provider} key …${saved.key!.last4} (model ${saved.key!.model}).\n`);
      }),
    );

  llm
    .command("show")
    .description("show which key is saved (never the key itself)")
    .option("--site-key", "the site's key instead of your own")
    .option("--json", "print {key} as JSON")
    .action(
      cli.action(async (options: LlmOptions, command: Command) => {
        const client = cli.client(command);
        const shown = await client.request("GET", keyPath(client, options.siteKey), LlmKeyResponse);
        if (options.json) return cli.out(json(shown));
        cli.out(shown.key ? facts(keyFacts(shown.key)) : `No ${options.siteKey ? "site" : "personal"} AI key is saved.\n`);
      }),
    );

  llm
    .command("clear")
    .description("remove the saved key")
    .option("--site-key", "the site's key instead of your own")
    .action(
      cli.action(async (options: LlmOptions, command: Command) => {
        const client = cli.client(command);
        await client.request("DELETE", keyPath(client, options.siteKey), LlmKeyResponse);
        cli.out(`Removed the ${options.siteKey ? "site's" : "personal"} AI key.\n`);
      }),
    );
}
