import type { InvestigationAction } from "../../../protocol/autonomy.ts";
import { redactText } from "../../../protocol/redaction.ts";
import type { AutonomyRecord } from "./autonomy-store.ts";

/** Where a person goes from an escalation: the investigation's conversation, and the site's events page. */
export interface EscalationLinks {
  conversation: string | null;
  events: string | null;
}

export interface EscalationMessage {
  subject: string;
  text: string;
  /** The webhook's JSON body: a Slack-compatible `text`, and the event for receivers that read fields. */
  webhook: Record<string, unknown>;
}

/** The hub's public address, for links: the configured one, else the one the site's settings were last saved from. */
export function escalationLinks(base: string | null, site: string, conversationId: string | null): EscalationLinks {
  if (!base) return { conversation: null, events: null };
  const q = `?site=${encodeURIComponent(site)}`;
  return {
    conversation: conversationId ? `${base}/chat/${encodeURIComponent(conversationId)}${q}` : null,
    events: `${base}/autonomy${q}`,
  };
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Slack reads `&`, `<` and `>` as markup: text from elsewhere is escaped so it cannot forge a link. */
function slackEscape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function actionLine(a: InvestigationAction): string {
  return `${a.tool} ${JSON.stringify(a.input)} (${a.status})`;
}

const OUTCOME: Partial<Record<AutonomyRecord["status"], string>> = {
  escalated: "needs a person",
  failed: "investigation failed",
};

export function escalationMessage(rec: AutonomyRecord, site: string, links: EscalationLinks): EscalationMessage {
  const subjectName = rec.subject.startsWith("alert:") ? rec.subject.slice(6) : rec.subject;
  const where = rec.nodeId ? ` on ${rec.nodeId}` : "";
  const outcome = OUTCOME[rec.status] ?? rec.status;
  const subject = oneLine(`[Cortex] ${site}: ${subjectName}${where} ${outcome}`, 200);
  const reason = rec.reason ?? "";
  const summary = rec.verdict ? redactText(rec.verdict.summary) : null;
  const actions = rec.actions.map(actionLine);
  const text = [
    `Cortex could not resolve an event on site "${site}" and hands it to you.`,
    "",
    `What happened: ${rec.detail}`,
    `Machine: ${rec.nodeId ?? "none matched"}`,
    `Outcome: ${rec.status}${reason ? ` (${reason})` : ""}`,
    ...(summary ? [`Investigation summary: ${summary}`] : []),
    ...(rec.verdict?.actions.length ? ["What the investigation says it did:", ...rec.verdict.actions.map((a) => `- ${redactText(a)}`)] : []),
    actions.length ? "Tool calls the hub recorded:" : "No tool was called.",
    ...actions.map((a) => `- ${a}`),
    "",
    rec.conversationId
      ? `The investigation: ${links.conversation ?? `conversation ${rec.conversationId} (set CORTEX_PUBLIC_URL for links)`}`
      : "No investigation was run (no model was called).",
    `All events: ${links.events ?? "the dashboard's Autonomy page"}`,
    `Event: ${rec.id} (${rec.eventKey}) at ${new Date(rec.createdAt).toISOString()}`,
  ].join("\n");

  const link = links.conversation ?? links.events;
  const slack = [
    `*[Cortex] ${slackEscape(site)}*: ${slackEscape(subjectName)}${slackEscape(where)}: ${slackEscape(outcome)}${reason ? ` (${slackEscape(oneLine(reason, 300))})` : ""}`,
    slackEscape(oneLine(rec.detail, 500)),
    ...(summary ? [slackEscape(oneLine(summary, 1_000))] : []),
    ...(link ? [`<${link}|${rec.conversationId ? "Open the investigation" : "Open the events"}>`] : []),
  ].join("\n");

  return {
    subject,
    text,
    webhook: {
      text: slack,
      site,
      event: {
        id: rec.id,
        eventKey: rec.eventKey,
        source: rec.source,
        trigger: rec.trigger,
        status: rec.status,
        reason: rec.reason,
        nodeId: rec.nodeId,
        subject: rec.subject,
        detail: rec.detail,
        summary,
        actions: rec.actions,
        conversationId: rec.conversationId,
        conversationUrl: links.conversation,
        eventsUrl: links.events,
        createdAt: rec.createdAt,
      },
    },
  };
}
