import * as z from "zod";
import { Email } from "./accounts.ts";
import { MAX_CHAT_STEP_LIMIT, Usage } from "./chat.ts";
import { ModelName } from "./llm.ts";
import { WebhookUrl } from "./webhook-url.ts";

/**
 * Autonomous investigations: a crash, a failed start or a give-up of a supervised process (or an Alertmanager alert)
 * starts a conversation without a user, under the site's guardrails, ending in a structured verdict; what it cannot
 * fix is escalated by email and webhook. docs/autonomy.md describes the flow.
 */

export const DEFAULT_AUTONOMY_DIRECTIVE = [
  "Keep the configured processes running and the machines operational.",
  "Investigate through the process's state and logs and the machine's health before acting.",
  "Restart a process when its logs show a transient failure and restarting is likely to help; do not restart one that keeps failing the same way.",
  "Escalate (report it unresolved) when repeated restarts fail, when the cause needs a person (a configuration, a credential, disk or hardware), or when you are unsure.",
].join(" ");

// ---- hourly ceilings: what an alert flood (or a stolen alert token) can cost a site ----

/** New alerts (not repeats) a site takes in an hour; past it, Alertmanager's requests get 429 and are retried later. */
export const MAX_NEW_ALERTS_PER_HOUR = 500;
/** Investigations started on a site in an hour, whatever started them; past it, events are skipped (`hourly_limit`). */
export const MAX_INVESTIGATIONS_PER_HOUR = 20;
/** Events escalated by email or webhook in an hour; past it, the channels are `suppressed` and nobody is paged again. */
export const MAX_ESCALATIONS_PER_HOUR = 30;

// ---- the site's settings (merged into SiteSettings) ----

/** The autonomy settings' schemas; protocol/site-settings.ts adds them to the site's settings. */
export const AUTONOMY_SETTING_FIELDS = {
  /** Master switch: off (the default) records events as skipped and escalates crash loops only. */
  autonomyEnabled: z.boolean(),
  /** The mission text every investigation is given (written by the site's admins, so trusted). */
  autonomyDirective: z.string().trim().min(1).max(8_000),
  /**
   * The highest tool risk tier an investigation is offered. Nobody confirms anything in an investigation: at 3 the
   * shell, file writes and reboots run without a person's approval.
   */
  autonomyMaxTier: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  /** The model investigations use; null uses the site key's own model. */
  autonomyModel: ModelName.nullable(),
  /** The same machine and process are not investigated again within this time. */
  autonomyCooldownMinutes: z.number().int().min(1).max(7 * 24 * 60),
  /** Investigations running at once on the site; more are skipped as busy. */
  autonomyMaxActive: z.number().int().min(1).max(20),
  /** Model calls one investigation may make before it ends unresolved. */
  autonomyStepLimit: z.number().int().min(2).max(MAX_CHAT_STEP_LIMIT),
  escalationEmails: z
    .array(Email)
    .max(10)
    .transform((emails) => [...new Set(emails)]),
  /** May carry a token (Slack's do): shown in full to site admins only. */
  escalationWebhookUrl: WebhookUrl.nullable(),
};

export const DEFAULT_AUTONOMY_SETTINGS = {
  autonomyEnabled: false,
  autonomyDirective: DEFAULT_AUTONOMY_DIRECTIVE,
  autonomyMaxTier: 2 as 1 | 2 | 3,
  autonomyModel: null as string | null,
  autonomyCooldownMinutes: 15,
  autonomyMaxActive: 3,
  autonomyStepLimit: 15,
  escalationEmails: [] as string[],
  escalationWebhookUrl: null as string | null,
};

/** Settings only site admins see in full; other readers get `redactedWebhookUrl`. */
export const ADMIN_ONLY_SETTINGS = ["escalationWebhookUrl"] as const;

/** What a reader who is not a site admin sees of the webhook URL: where it goes, not its path or query (the token). */
export function redactedWebhookUrl(url: string): string {
  return `${new URL(url).origin}/…`;
}

// ---- the verdict: the tool an investigation must end with ----

export const VERDICT_TOOL_NAME = "report_verdict";

export const Verdict = z.strictObject({
  resolved: z.boolean().describe("true only if the problem is fixed now (for example the process was restarted and is running); false hands it to a person."),
  summary: z.string().trim().min(1).max(1_000).describe("What happened and why, in two or three sentences a person on call can act on."),
  actions: z.array(z.string().trim().min(1).max(300)).max(20).describe("What you did, one short line each (empty if you only looked)."),
});
export type Verdict = z.infer<typeof Verdict>;

export const VERDICT_TOOL = {
  name: VERDICT_TOOL_NAME,
  description:
    "End this investigation with your verdict. You must call it exactly once, last: resolved (true only when the problem is fixed now), a short summary, and the actions you took. An unresolved verdict is escalated to the site's people.",
  input: Verdict,
};

// ---- events and investigations ----

export const AutonomyEventId = z.string().regex(/^ae-[0-9a-f-]{36}$/, "not an autonomy event id");

/** What started it: a supervised process's event, or an alert from Alertmanager. */
export const AutonomySource = z.enum(["process", "alertmanager"]);
export type AutonomySource = z.infer<typeof AutonomySource>;

export const AutonomyTrigger = z.enum(["crashed", "start_failed", "gave_up", "alert_firing", "alert_resolved"]);
export type AutonomyTrigger = z.infer<typeof AutonomyTrigger>;

/**
 * investigating: a conversation is working on it; resolved / escalated / failed: how it ended (failed: it ended
 * without a verdict or with an error, and was escalated); skipped: a guard stopped it (see `skipReason`); recorded:
 * kept for the record only (a resolved alert).
 */
export const AutonomyStatus = z.enum(["investigating", "resolved", "escalated", "failed", "skipped", "recorded"]);
export type AutonomyStatus = z.infer<typeof AutonomyStatus>;

export const SkipReason = z.enum(["cooldown", "duplicate", "busy", "hourly_limit", "disabled", "unmatched"]);
export type SkipReason = z.infer<typeof SkipReason>;

/**
 * How an escalation channel fared. It is sent at most once: `sending` is stored before the request and `sent` or
 * `failed` after, so a hub that stops in between finds `sending` on its way back up and marks it `unknown` rather
 * than send it a second time.
 */
/** `suppressed`: not sent, since the site already escalated `MAX_ESCALATIONS_PER_HOUR` events in the last hour. */
export const ChannelStatus = z.enum(["none", "pending", "sending", "sent", "failed", "unknown", "unavailable", "suppressed"]);
export type ChannelStatus = z.infer<typeof ChannelStatus>;

export const ChannelState = z.object({
  status: ChannelStatus,
  at: z.number().nullable(),
  /** Why it failed or could not be sent; the email's message id or the webhook's HTTP status when sent. */
  detail: z.string().nullable(),
});
export type ChannelState = z.infer<typeof ChannelState>;

/** One tool call an investigation made, as recorded by the hub (not as the model describes it). */
export const InvestigationAction = z.object({
  tool: z.string(),
  tier: z.number().int(),
  /** Redacted. */
  input: z.record(z.string(), z.unknown()),
  status: z.string(),
  at: z.number().nullable(),
});
export type InvestigationAction = z.infer<typeof InvestigationAction>;

export const AutonomyEventView = z.object({
  id: AutonomyEventId,
  source: AutonomySource,
  trigger: AutonomyTrigger,
  /** The machine and its process event's id, or an alert's fingerprint and start time: seen once, repeats are duplicates. */
  eventKey: z.string(),
  nodeId: z.string().nullable(),
  /** The process's name, or the alert's name. */
  subject: z.string(),
  status: AutonomyStatus,
  skipReason: SkipReason.nullable(),
  /** Why it was skipped, escalated or failed, in a sentence. */
  reason: z.string().nullable(),
  /** What happened, as the trigger reported it (redacted). */
  detail: z.string(),
  conversationId: z.string().nullable(),
  verdict: Verdict.nullable(),
  actions: z.array(InvestigationAction),
  /**
   * The investigation read without the readable paths' confinement, and the model wrote its verdict from that output:
   * a reader confined to those paths (a member, a read or chat key) gets `verdict: null` and this set. The tool
   * inputs stay, redacted, as the directives they ran show them to such a reader.
   */
  verdictWithheld: z.boolean(),
  usage: Usage.nullable(),
  /** Repeats of the same event id that arrived later (each one skipped as a duplicate). */
  duplicates: z.number().int(),
  escalation: z.object({ email: ChannelState, webhook: ChannelState }),
  createdAt: z.number(),
  endedAt: z.number().nullable(),
});
export type AutonomyEventView = z.infer<typeof AutonomyEventView>;

export const AutonomyEventListQuery = z.object({
  status: AutonomyStatus.optional(),
  node: z.string().max(63).optional(),
  /** Events created before this time: the cursor of the next page. */
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type AutonomyEventListQuery = z.output<typeof AutonomyEventListQuery>;

export const AutonomyEventListResponse = z.object({
  events: z.array(AutonomyEventView),
  nextBefore: z.number().nullable(),
  /** Investigations running now, and the site's limit. */
  active: z.number().int(),
  maxActive: z.number().int(),
});
export type AutonomyEventListResponse = z.infer<typeof AutonomyEventListResponse>;

// ---- Alertmanager ----

const LabelSet = z.record(z.string().max(256), z.string().max(4_096));

/** One alert of Alertmanager's webhook payload (version 4). Unknown fields are ignored. */
export const AlertmanagerAlert = z.object({
  status: z.enum(["firing", "resolved"]),
  labels: LabelSet,
  annotations: LabelSet.default({}),
  startsAt: z.iso.datetime({ offset: true }),
  endsAt: z.string().max(64).optional(),
  generatorURL: z.string().max(4_096).optional(),
  fingerprint: z.string().regex(/^[0-9a-f]{1,32}$/, "an alert fingerprint is hexadecimal"),
});
export type AlertmanagerAlert = z.infer<typeof AlertmanagerAlert>;

export const AlertmanagerPayload = z.object({
  version: z.literal("4"),
  groupKey: z.string().max(4_096).optional(),
  status: z.enum(["firing", "resolved"]).optional(),
  receiver: z.string().max(256).optional(),
  externalURL: z.string().max(4_096).optional(),
  alerts: z.array(AlertmanagerAlert).min(1).max(200),
});
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayload>;

export const AlertOutcome = z.object({
  fingerprint: z.string(),
  status: z.enum(["firing", "resolved"]),
  /** The machine the alert was matched to; null when none matched. */
  nodeId: z.string().nullable(),
  eventId: AutonomyEventId.nullable(),
  outcome: z.enum(["investigating", "escalated", "skipped", "duplicate", "recorded"]),
  reason: z.string().nullable(),
});
export type AlertOutcome = z.infer<typeof AlertOutcome>;

export const AlertmanagerResponse = z.object({ alerts: z.array(AlertOutcome) });
export type AlertmanagerResponse = z.infer<typeof AlertmanagerResponse>;

/** The site's Alertmanager token: what may be shown of it, and the token itself once, when it is made. */
export const AlertTokenView = z.object({
  configured: z.boolean(),
  prefix: z.string().nullable(),
  createdAt: z.number().nullable(),
  createdBy: z.string().nullable(),
});
export type AlertTokenView = z.infer<typeof AlertTokenView>;

export const CreatedAlertToken = z.object({ token: z.string(), view: AlertTokenView });
export type CreatedAlertToken = z.infer<typeof CreatedAlertToken>;
