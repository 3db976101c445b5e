import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import {
  AlertTokenView,
  AutonomyEventListResponse,
  AutonomyEventView,
  AutonomyStatus,
  CreatedAlertToken,
  DEFAULT_AUTONOMY_DIRECTIVE,
} from "../../protocol/autonomy.ts";
import { SiteSettingsPatch, SiteSettingsResponse, type SiteSettings } from "../../protocol/site-settings.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import { ago, facts, json, table, when } from "./format.ts";
import { nodeId, positiveInt } from "./option-parsers.ts";

const HELP = `
When autonomy is on, a crash, a failed start or a give-up of a supervised process (or a firing Alertmanager alert)
starts an investigation: a conversation without a user, on the site's AI key, with tools up to the maximum tier,
that ends with a verdict. What it cannot fix is escalated once by email and webhook. Only site admins change these
settings. docs/autonomy.md has the guardrails and the Alertmanager wiring.

Examples:
  cortex autonomy set --on --email oncall@example.com --webhook https://hooks.slack.com/services/T/B/X
  cortex autonomy set --cooldown 30 --max-active 2 --max-tier 1
  cortex autonomy show
  cortex autonomy events --status escalated
  cortex autonomy alert-token rotate
`;

interface SetFlags extends JsonOption {
  on?: boolean;
  off?: boolean;
  directive?: string;
  directiveFile?: string;
  defaultDirective?: boolean;
  maxTier?: string;
  model?: string;
  siteModel?: boolean;
  cooldown?: number;
  maxActive?: number;
  steps?: number;
  email?: string[];
  /** false when --no-emails was given (commander's negated option). */
  emails?: boolean;
  /** A URL, or false for --no-webhook. */
  webhook?: string | false;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** One value of a pair of flags that say opposite things (`--on` / `--off`), or an error naming both. */
function either<T>(a: boolean | undefined, b: boolean | undefined, names: string, values: [T, T]): T | undefined {
  if (a && b) throw new CliError(`give one of ${names}, not both`);
  return a ? values[0] : b ? values[1] : undefined;
}

function patchOf(flags: SetFlags, cwd: string): SiteSettingsPatch {
  const given = [flags.directive !== undefined, flags.directiveFile !== undefined, flags.defaultDirective === true].filter(Boolean).length;
  if (given > 1) throw new CliError("give one of --directive, --directive-file and --default-directive");
  const directive = flags.directiveFile !== undefined ? readFileSync(resolve(cwd, flags.directiveFile), "utf8") : flags.defaultDirective ? DEFAULT_AUTONOMY_DIRECTIVE : flags.directive;
  const patch = {
    autonomyEnabled: either(flags.on, flags.off, "--on and --off", [true, false]),
    autonomyDirective: directive,
    autonomyMaxTier: flags.maxTier === undefined ? undefined : Number(flags.maxTier),
    autonomyModel: either(flags.model !== undefined, flags.siteModel, "--model and --site-model", [flags.model ?? null, null]),
    autonomyCooldownMinutes: flags.cooldown,
    autonomyMaxActive: flags.maxActive,
    autonomyStepLimit: flags.steps,
    escalationEmails: either(flags.email !== undefined, flags.emails === false, "--email and --no-emails", [flags.email ?? [], []]),
    escalationWebhookUrl: flags.webhook === undefined ? undefined : flags.webhook || null,
  };
  const named = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
  if (Object.keys(named).length === 0) throw new CliError("nothing to change: name at least one setting (see --help)");
  const parsed = SiteSettingsPatch.safeParse(named);
  if (!parsed.success) throw new CliError(`invalid settings: ${issuesLine(parsed.error)}`);
  return parsed.data;
}

function settingsText(r: SiteSettingsResponse): string {
  const s: SiteSettings = r.settings;
  const webhook = s.escalationWebhookUrl === null ? "none" : `${s.escalationWebhookUrl}${r.redacted.length ? " (shown in full to site admins only)" : ""}`;
  return facts([
    ["autonomy", s.autonomyEnabled ? "on" : "off"],
    ["max tool tier", `${s.autonomyMaxTier}${s.autonomyMaxTier === 3 ? " (shell, file writes and reboots without anyone's approval)" : ""}`],
    ["model", s.autonomyModel ?? "the site key's"],
    ["cooldown", `${s.autonomyCooldownMinutes} min per machine and process`],
    ["at once", `${s.autonomyMaxActive} investigations`],
    ["steps", `${s.autonomyStepLimit} model calls per investigation`],
    ["emails", s.escalationEmails.length ? s.escalationEmails.join(", ") : "none"],
    ["webhook", webhook],
    ["directive", s.autonomyDirective],
  ]);
}

function statusText(e: AutonomyEventView): string {
  return e.status === "skipped" ? `skipped (${e.skipReason})` : e.status;
}

function eventsText(r: AutonomyEventListResponse): string {
  const head = `${r.active} of ${r.maxActive} investigations running\n`;
  if (!r.events.length) return `${head}No events yet.\n`;
  const rows = r.events.map((e) => [e.id, ago(e.createdAt), e.nodeId ?? "—", e.subject, e.trigger.replace("_", " "), statusText(e), e.conversationId ?? "", (e.verdict?.summary ?? e.reason ?? (e.verdictWithheld ? "verdict withheld" : "")).slice(0, 60)]);
  return head + table(["id", "when", "machine", "subject", "trigger", "status", "conversation", "summary"], rows);
}

const WITHHELD = "withheld (the investigation read outside the paths you may read; a site admin sees it)";

function eventText(e: AutonomyEventView): string {
  const channel = (c: AutonomyEventView["escalation"]["email"]) => (c.status === "none" ? "—" : `${c.status}${c.detail ? ` (${c.detail})` : ""}${c.at ? ` ${when(c.at)}` : ""}`);
  return facts([
    ["event", e.id],
    ["status", statusText(e)],
    ["trigger", `${e.trigger.replace("_", " ")} (${e.source})`],
    ["machine", e.nodeId ?? "none matched"],
    ["subject", e.subject],
    ["detail", e.detail],
    ["reason", e.reason ?? "—"],
    ["conversation", e.conversationId ?? "—"],
    ["verdict", e.verdictWithheld ? WITHHELD : e.verdict ? `${e.verdict.resolved ? "resolved" : "unresolved"}: ${e.verdict.summary}` : "—"],
    ["actions", e.actions.length ? e.actions.map((a) => `${a.tool} (tier ${a.tier}, ${a.status})`).join("; ") : "—"],
    ["tokens", e.usage ? `${e.usage.inputTokens} in, ${e.usage.outputTokens} out` : "—"],
    ["email", channel(e.escalation.email)],
    ["webhook", channel(e.escalation.webhook)],
    ["duplicates", String(e.duplicates)],
    ["created", when(e.createdAt)],
    ["ended", when(e.endedAt)],
  ]);
}

function tokenText(v: AlertTokenView): string {
  return v.configured ? `Alertmanager token ${v.prefix}… made by ${v.createdBy} ${when(v.createdAt)}\n` : "No Alertmanager token: `cortex autonomy alert-token rotate` makes one.\n";
}

/** `cortex autonomy`: the site's autonomous investigations, their settings, and the Alertmanager token. */
export function addAutonomyCommands(program: Command, cli: CliContext): void {
  const autonomy = program.command("autonomy").description("autonomous investigations of crashes and alerts: settings, events, Alertmanager token").addHelpText("after", HELP);

  autonomy
    .command("show")
    .description("the site's autonomy and escalation settings (every member may read them; the webhook URL only in part)")
    .option("--json", "print the site's settings as JSON")
    .action(
      cli.action(async (options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const r = await client.request("GET", client.sitePath("settings"), SiteSettingsResponse);
        cli.out(options.json ? json(r) : settingsText(r));
      }),
    );

  autonomy
    .command("set")
    .description("change autonomy and escalation settings (site admins only); only what the flags name changes")
    .option("--on", "turn autonomous investigations on")
    .option("--off", "turn them off (crash loops are still escalated)")
    .option("--directive <text>", "the mission every investigation is given")
    .option("--directive-file <file>", "read the directive from a file")
    .option("--default-directive", "go back to the default directive")
    .addOption(new Option("--max-tier <tier>", "highest tool risk tier (3: shell and reboots without approval)").choices(["1", "2", "3"]))
    .option("--model <model>", "the model investigations use")
    .option("--site-model", "use the site key's own model")
    .option("--cooldown <minutes>", "do not investigate the same machine and process again within this time", positiveInt)
    .option("--max-active <n>", "investigations running at once; more are skipped as busy", positiveInt)
    .option("--steps <n>", "model calls one investigation may make", positiveInt)
    .option("--email <address>", "escalation address (repeat for more; replaces the list)", collect)
    .option("--no-emails", "send no escalation email")
    .option("--webhook <url>", "escalation webhook (https; Slack-compatible `text`)")
    .option("--no-webhook", "call no webhook")
    .option("--json", "print the site's settings as JSON")
    .action(
      cli.action(async (flags: SetFlags, command: Command) => {
        const patch = patchOf(flags, cli.io.cwd);
        const client = cli.client(command);
        const r = await client.request("PATCH", client.sitePath("settings"), SiteSettingsResponse, { body: patch });
        cli.out(flags.json ? json(r) : `Changed ${Object.keys(patch).join(", ")}.\n${settingsText(r)}`);
      }),
    );

  autonomy
    .command("events")
    .description("events that reached the guards, newest first: investigations with their outcome, escalations, skips")
    .addOption(new Option("--status <status>", "only events with this status").choices(AutonomyStatus.options))
    .option("--node <id>", "only events of this machine", nodeId)
    .option("--limit <n>", "how many (default 50, at most 200)", positiveInt)
    .option("--json", "print the page as JSON")
    .action(
      cli.action(async (options: JsonOption & { status?: AutonomyStatus; node?: string; limit?: number }, command: Command) => {
        const client = cli.client(command);
        const query = { status: options.status, node: options.node, limit: options.limit };
        const r = await client.request("GET", client.sitePath("autonomy", "events"), AutonomyEventListResponse, { query });
        cli.out(options.json ? json(r) : eventsText(r));
      }),
    );

  autonomy
    .command("event")
    .description("one event: what happened, the verdict, the tools the investigation ran, escalation")
    .argument("<id>", "event id (ae-...)")
    .option("--json", "print the event as JSON")
    .action(
      cli.action(async (id: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const e = await client.request("GET", client.sitePath("autonomy", "events", id), AutonomyEventView);
        cli.out(options.json ? json(e) : eventText(e));
      }),
    );

  const token = autonomy.command("alert-token").description("the token Alertmanager posts alerts with (site admins only)");
  token
    .command("show")
    .description("whether the site has a token, its first characters and who made it")
    .option("--json", "print it as JSON")
    .action(
      cli.action(async (options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const v = await client.request("GET", client.sitePath("alerts", "alertmanager", "token"), AlertTokenView);
        cli.out(options.json ? json(v) : tokenText(v));
      }),
    );
  token
    .command("rotate")
    .description("make a new token (shown once) and revoke the old one")
    .option("--json", "print it as JSON")
    .action(
      cli.action(async (options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const created = await client.request("POST", client.sitePath("alerts", "alertmanager", "token"), CreatedAlertToken);
        if (options.json) return cli.out(json(created));
        cli.out(`${created.token}\n`);
        cli.err(`The Alertmanager token, shown once. Post alerts to ${client.settings.hub}${client.sitePath("alerts", "alertmanager")} with it as the bearer token.\n`);
      }),
    );
  token
    .command("remove")
    .description("revoke the token: Alertmanager's posts are refused until a new one is made")
    .action(
      cli.action(async (_options: unknown, command: Command) => {
        const client = cli.client(command);
        await client.request("DELETE", client.sitePath("alerts", "alertmanager", "token"), AlertTokenView);
        cli.out("Removed the Alertmanager token.\n");
      }),
    );
}
