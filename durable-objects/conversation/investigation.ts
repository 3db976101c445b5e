import type { RiskTier } from "../../protocol/action-risk.ts";
import { Verdict, type InvestigationAction } from "../../protocol/autonomy.ts";
import type { TurnStatus, Usage } from "../../protocol/chat.ts";
import { redactValue } from "../../protocol/redaction.ts";
import type { ToolCallRecord } from "./transcript.ts";

/**
 * An autonomous investigation is a conversation without a user: its owner is this pseudo-owner, which no person and no
 * key can be, so nobody may write in it (site admins may read, stop and delete it like any other conversation).
 */
export const AUTONOMY_OWNER = { id: "autonomy", label: "Cortex (autonomous)", confined: false } as const;

/** The author of an investigation's messages to the model (its briefing and its reminder). */
export const HUB_AUTHOR = "Cortex hub";

/** How often a model that stops without a verdict is reminded to give one, before the investigation ends failed. */
export const VERDICT_REMINDERS = 1;

export const VERDICT_REMINDER =
  "You stopped without calling report_verdict. This investigation has no one to answer questions: call report_verdict now with what you found (resolved: false if you are unsure).";

/** What the site's SiteHub asks a Conversation object to start. */
export interface InvestigationStart {
  id: string;
  site: string;
  eventId: string;
  nodeId: string;
  title: string;
  briefing: string;
  directive: string;
  toolTier: RiskTier;
  stepLimit: number;
  model: string | null;
}

/** How an investigation ended, as the Conversation reports it to the SiteHub. */
export interface InvestigationReport {
  eventId: string;
  conversationId: string;
  verdict: Verdict | null;
  /** How the answer ended: done (with or without a verdict), step_limit, error, stopped. */
  outcome: TurnStatus;
  /** The hub's note on why it ended, when it did not end with a verdict. */
  note: string | null;
  usage: Usage;
  actions: InvestigationAction[];
}

export type InvestigationState = { state: "missing" } | { state: "running" } | { state: "ended"; report: InvestigationReport };

export interface InvestigationRow {
  eventId: string;
  directive: string;
  verdict: Verdict | null;
  reminders: number;
}

/** The tool calls an investigation made, as the hub recorded them, inputs redacted; the verdict itself left out. */
export function actionsOf(calls: readonly ToolCallRecord[], verdictTool: string): InvestigationAction[] {
  return calls
    .filter((c) => c.name !== verdictTool)
    .map((c) => ({ tool: c.name, tier: c.tier, input: redactValue(c.input) as Record<string, unknown>, status: c.status, at: c.startedAt ?? c.endedAt }));
}

/** The `investigation` table: one row in the object of an autonomous conversation, none in a person's. */
export class InvestigationStore {
  constructor(private readonly sql: SqlStorage) {}

  get(): InvestigationRow | null {
    const r = this.sql
      .exec<{ event_id: string; directive: string; verdict: string | null; reminders: number }>("SELECT event_id, directive, verdict, reminders FROM investigation")
      .toArray()[0];
    if (!r) return null;
    const verdict = r.verdict === null ? null : Verdict.safeParse(JSON.parse(r.verdict));
    return { eventId: r.event_id, directive: r.directive, verdict: verdict?.success ? verdict.data : null, reminders: r.reminders };
  }

  create(eventId: string, directive: string): void {
    this.sql.exec("INSERT INTO investigation (event_id, directive) VALUES (?, ?)", eventId, directive);
  }

  setVerdict(verdict: Verdict): void {
    this.sql.exec("UPDATE investigation SET verdict = ?", JSON.stringify(verdict));
  }

  countReminder(): void {
    this.sql.exec("UPDATE investigation SET reminders = reminders + 1");
  }
}
