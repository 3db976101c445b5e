import {
  AutonomyEventView,
  InvestigationAction,
  Verdict,
  type AutonomyEventListQuery,
  type AutonomySource,
  type AutonomyStatus,
  type AutonomyTrigger,
  type ChannelState,
  type ChannelStatus,
  type SkipReason,
} from "../../../protocol/autonomy.ts";
import { Usage } from "../../../protocol/chat.ts";
import type { Viewer } from "../viewer-visibility.ts";

/** Events kept at most; the oldest that are no longer running are pruned past it. */
const MAX_EVENTS = 5_000;
const PRUNE_EVERY = 100;

export type Channel = "email" | "webhook";

/** A new row, as the guards decided it. */
export interface NewAutonomyEvent {
  id: string;
  source: AutonomySource;
  trigger: AutonomyTrigger;
  eventKey: string;
  nodeId: string | null;
  subject: string;
  status: AutonomyStatus;
  skipReason: SkipReason | null;
  reason: string | null;
  detail: string;
  /** What the investigation is briefed with (the process event, or the alert), as JSON. */
  context: Record<string, unknown>;
  conversationId: string | null;
  checkAt: number | null;
  channels: Record<Channel, ChannelStatus>;
}

export interface AutonomyRecord extends Omit<AutonomyEventView, "verdictWithheld"> {
  context: Record<string, unknown>;
  launches: number;
  checkAt: number | null;
}

interface Row {
  id: string;
  source: string;
  trigger: string;
  event_key: string;
  node_id: string | null;
  subject: string;
  status: string;
  skip_reason: string | null;
  reason: string | null;
  detail: string;
  context: string;
  conversation_id: string | null;
  verdict: string | null;
  actions: string;
  usage: string | null;
  duplicates: number;
  launches: number;
  email_status: string;
  email_at: number | null;
  email_detail: string | null;
  webhook_status: string;
  webhook_at: number | null;
  webhook_detail: string | null;
  check_at: number | null;
  created_at: number;
  ended_at: number | null;
  [key: string]: SqlStorageValue;
}

function parsed<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, text: string | null): T | null {
  if (text === null) return null;
  const result = schema.safeParse(JSON.parse(text));
  return result.success ? result.data : null;
}

function channel(status: string, at: number | null, detail: string | null): ChannelState {
  return { status: status as ChannelStatus, at, detail };
}

function recordOf(r: Row): AutonomyRecord {
  return {
    id: r.id,
    source: r.source as AutonomySource,
    trigger: r.trigger as AutonomyTrigger,
    eventKey: r.event_key,
    nodeId: r.node_id,
    subject: r.subject,
    status: r.status as AutonomyStatus,
    skipReason: r.skip_reason as SkipReason | null,
    reason: r.reason,
    detail: r.detail,
    conversationId: r.conversation_id,
    verdict: parsed(Verdict, r.verdict),
    actions: parsed(InvestigationAction.array(), r.actions) ?? [],
    usage: parsed(Usage, r.usage),
    duplicates: r.duplicates,
    escalation: { email: channel(r.email_status, r.email_at, r.email_detail), webhook: channel(r.webhook_status, r.webhook_at, r.webhook_detail) },
    createdAt: r.created_at,
    endedAt: r.ended_at,
    context: JSON.parse(r.context) as Record<string, unknown>,
    launches: r.launches,
    checkAt: r.check_at,
  };
}

/**
 * A record as a viewer may see it. An investigation runs unconfined, and its verdict is the model's account of what
 * it read, which may quote files a confined viewer may not read, redacted only of the secrets the redactor knows:
 * such a viewer gets how the event ended, not what was found, as with the output of unconfined directives
 * (viewer-visibility.ts). The tool calls' inputs are redacted, as those directives' parameters are.
 */
export function eventView(rec: AutonomyRecord, viewer: Viewer): AutonomyEventView {
  const { context: _c, launches: _l, checkAt: _k, ...view } = rec;
  if (!viewer.confined || view.verdict === null) return { ...view, verdictWithheld: false };
  return { ...view, verdict: null, verdictWithheld: true };
}

/** Statuses that count for the cooldown: the event reached an investigation or an escalation. */
const COUNTED: readonly AutonomyStatus[] = ["investigating", "resolved", "escalated", "failed"];

/**
 * The `autonomy_events` table. Every method is synchronous, so a guard decision made from several reads and one
 * insert cannot interleave with another: the object runs one piece of synchronous code at a time.
 */
export class AutonomyStore {
  private insertsSincePrune = 0;

  constructor(private readonly sql: SqlStorage) {}

  insert(e: NewAutonomyEvent, now: number): void {
    this.sql.exec(
      `INSERT INTO autonomy_events (id, source, trigger, event_key, node_id, subject, status, skip_reason, reason, detail, context, conversation_id, check_at, email_status, webhook_status, created_at, ended_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      e.id,
      e.source,
      e.trigger,
      e.eventKey,
      e.nodeId,
      e.subject,
      e.status,
      e.skipReason,
      e.reason,
      e.detail,
      JSON.stringify(e.context),
      e.conversationId,
      e.checkAt,
      e.channels.email,
      e.channels.webhook,
      now,
      e.status === "investigating" ? null : now,
    );
    if (++this.insertsSincePrune >= PRUNE_EVERY) {
      this.insertsSincePrune = 0;
      this.sql.exec("DELETE FROM autonomy_events WHERE seq <= (SELECT MAX(seq) FROM autonomy_events) - ? AND status != 'investigating' AND check_at IS NULL", MAX_EVENTS);
    }
  }

  get(id: string): AutonomyRecord | null {
    const r = this.sql.exec<Row>("SELECT * FROM autonomy_events WHERE id = ?", id).toArray()[0];
    return r ? recordOf(r) : null;
  }

  byKey(eventKey: string): AutonomyRecord | null {
    const r = this.sql.exec<Row>("SELECT * FROM autonomy_events WHERE event_key = ?", eventKey).toArray()[0];
    return r ? recordOf(r) : null;
  }

  countDuplicate(id: string): void {
    this.sql.exec("UPDATE autonomy_events SET duplicates = duplicates + 1 WHERE id = ?", id);
  }

  /** The latest event of this machine and subject since `since` that was investigated or escalated. */
  recent(nodeId: string, subject: string, since: number): AutonomyRecord | null {
    const marks = COUNTED.map(() => "?").join(", ");
    const r = this.sql
      .exec<Row>(`SELECT * FROM autonomy_events WHERE node_id = ? AND subject = ? AND created_at >= ? AND status IN (${marks}) ORDER BY seq DESC LIMIT 1`, nodeId, subject, since, ...COUNTED)
      .toArray()[0];
    return r ? recordOf(r) : null;
  }

  /** Alerts first seen since `since` (repeats are counted on their first event, not as new ones). */
  newAlertsSince(since: number): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM autonomy_events WHERE source = 'alertmanager' AND created_at >= ?", since).one().n;
  }

  /** Investigations started since `since`: every event given a conversation. */
  investigationsSince(since: number): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM autonomy_events WHERE conversation_id IS NOT NULL AND created_at >= ?", since).one().n;
  }

  /** Events escalated through a channel since `since`: at their start (nothing to investigate) or at their end. */
  escalationsSince(since: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM autonomy_events
         WHERE (email_status NOT IN ('none', 'suppressed') OR webhook_status NOT IN ('none', 'suppressed')) AND MAX(created_at, COALESCE(ended_at, 0)) >= ?`,
        since,
      )
      .one().n;
  }

  activeCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM autonomy_events WHERE status = 'investigating'").one().n;
  }

  list(q: AutonomyEventListQuery): { events: AutonomyRecord[]; nextBefore: number | null } {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (q.status) (where.push("status = ?"), args.push(q.status));
    if (q.node) (where.push("node_id = ?"), args.push(q.node));
    if (q.before !== undefined) (where.push("created_at < ?"), args.push(q.before));
    const clause = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.sql.exec<Row>(`SELECT * FROM autonomy_events ${clause} ORDER BY created_at DESC, seq DESC LIMIT ?`, ...args, q.limit + 1).toArray();
    const page = rows.slice(0, q.limit).map(recordOf);
    return { events: page, nextBefore: rows.length > q.limit ? page[page.length - 1]!.createdAt : null };
  }

  /** Rows whose next check is due: investigations to look after, escalations still to send. */
  due(now: number): AutonomyRecord[] {
    return this.sql.exec<Row>("SELECT * FROM autonomy_events WHERE check_at IS NOT NULL AND check_at <= ? ORDER BY check_at LIMIT 50", now).toArray().map(recordOf);
  }

  nextCheck(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT MIN(check_at) AS t FROM autonomy_events WHERE check_at IS NOT NULL").one().t;
  }

  setCheck(id: string, at: number | null): void {
    this.sql.exec("UPDATE autonomy_events SET check_at = ? WHERE id = ?", at, id);
  }

  countLaunch(id: string): void {
    this.sql.exec("UPDATE autonomy_events SET launches = launches + 1 WHERE id = ?", id);
  }

  /** Ends an investigation; false when it was not investigating any more (the first report wins). */
  end(
    id: string,
    change: { status: AutonomyStatus; reason: string | null; verdict: Verdict | null; actions: InvestigationAction[]; usage: Usage | null; channels: Record<Channel, ChannelStatus>; checkAt: number | null },
    now: number,
  ): boolean {
    return (
      this.sql.exec(
        `UPDATE autonomy_events SET status = ?, reason = ?, verdict = ?, actions = ?, usage = ?, email_status = ?, webhook_status = ?, check_at = ?, ended_at = ?
         WHERE id = ? AND status = 'investigating'`,
        change.status,
        change.reason,
        change.verdict ? JSON.stringify(change.verdict) : null,
        JSON.stringify(change.actions),
        change.usage ? JSON.stringify(change.usage) : null,
        change.channels.email,
        change.channels.webhook,
        change.checkAt,
        now,
        id,
      ).rowsWritten > 0
    );
  }

  /**
   * Moves a channel from `from` to `to`; false when it was not in `from`. Sending claims a channel by moving it from
   * pending to sending first, so two deliveries of the same event cannot both send.
   */
  moveChannel(id: string, ch: Channel, from: ChannelStatus, to: ChannelStatus, detail: string | null, now: number): boolean {
    return this.sql.exec(`UPDATE autonomy_events SET ${ch}_status = ?, ${ch}_at = ?, ${ch}_detail = ? WHERE id = ? AND ${ch}_status = ?`, to, now, detail, id, from).rowsWritten > 0;
  }

  /** Channels a stopped hub left in `sending`: whether they went out is unknown, and they are not sent again. */
  abandonSending(now: number): AutonomyRecord[] {
    const rows = this.sql.exec<Row>("SELECT * FROM autonomy_events WHERE email_status = 'sending' OR webhook_status = 'sending'").toArray().map(recordOf);
    for (const ch of ["email", "webhook"] as const) {
      this.sql.exec(`UPDATE autonomy_events SET ${ch}_status = 'unknown', ${ch}_at = ?, ${ch}_detail = 'the hub stopped while sending; not sent again' WHERE ${ch}_status = 'sending'`, now);
    }
    return rows;
  }
}
