import type { RiskTier } from "../../../protocol/action-risk.ts";
import type { NodeView } from "../../../protocol/api.ts";
import {
  MAX_INVESTIGATIONS_PER_HOUR,
  MAX_NEW_ALERTS_PER_HOUR,
  type AlertmanagerPayload,
  type AlertOutcome,
  type AutonomyEventListQuery,
  type AutonomyEventListResponse,
  type AutonomyEventView,
  type AutonomyStatus,
  type ChannelStatus,
} from "../../../protocol/autonomy.ts";
import type { SiteSettings } from "../../../protocol/site-settings.ts";
import type { Conversation } from "../../conversation/conversation.ts";
import type { InvestigationReport, InvestigationState } from "../../conversation/investigation.ts";
import { fail, ok, type HubResult } from "../../shared/hub-result.ts";
import type { ActivityLog } from "../activity-log.ts";
import type { Viewer } from "../viewer-visibility.ts";
import { AutonomyStore, eventView, type AutonomyRecord, type Channel } from "./autonomy-store.ts";
import { briefing, investigationTitle } from "./briefing.ts";
import { pending, type Escalator } from "./escalator.ts";
import { decide, type GuardDecision } from "./guards.ts";
import { alertTrigger, type Trigger } from "./triggers.ts";

/** After a start, the site checks on an investigation this often (a report may have been lost, or it may overrun). */
const CHECK_MS = 60_000;
/** An investigation still running after this long is stopped and counts as failed. */
const MAX_INVESTIGATION_MS = 30 * 60_000;
/** Starting the conversation is tried this many times (the first, then on checks) before the event fails. */
const MAX_LAUNCHES = 3;
/** An escalation not settled by its first delivery is tried again after this long. */
const ESCALATION_CHECK_MS = 30_000;
const HOUR_MS = 3600_000;

/** What the autonomy side needs from its SiteHub. */
export interface AutonomyHost {
  site(): string;
  settings(): SiteSettings;
  node(id: string): NodeView | null;
  nodes(): NodeView[];
  isOnline(id: string): boolean;
  hasSiteKey(): boolean;
  conversation(id: string): DurableObjectStub<Conversation>;
  /** Runs `fn` as one storage transaction. */
  transaction<T>(fn: () => T): T;
  /** Makes sure the object's alarm fires by `at`. */
  scheduleCheck(at: number): Promise<void>;
  /** Keeps work started here running after the caller returns. */
  background(work: Promise<unknown>): void;
}

export interface Considered {
  outcome: "investigating" | "escalated" | "skipped" | "duplicate" | "recorded";
  eventId: string;
  reason: string | null;
}

function newEventId(): string {
  return `ae-${crypto.randomUUID()}`;
}

/**
 * Autonomous investigations of one site: the guards (each decided and recorded in one synchronous step, so events
 * arriving together cannot both take the last free slot), the start of each investigation's conversation, its end
 * (reported by the conversation, or found by the site's checks), and escalation of what stays unresolved.
 */
export class Autonomy {
  constructor(
    readonly store: AutonomyStore,
    private readonly activity: ActivityLog,
    private readonly escalator: Escalator,
    private readonly host: AutonomyHost,
  ) {}

  /** Runs a trigger through the guards and records the decision; an investigation or escalation then proceeds on its own. */
  consider(trigger: Trigger): Considered {
    const now = Date.now();
    const { decision, rec } = this.host.transaction(() => this.decideAndRecord(trigger, now));
    if (decision.kind === "duplicate") return { outcome: "duplicate", eventId: decision.of, reason: `event ${trigger.eventKey} was seen before` };
    this.log(rec!, decision);
    if (decision.kind === "investigate") this.host.background(this.launch(rec!.id));
    if (decision.kind === "escalate") this.host.background(this.escalator.deliver(rec!.id, this.host.settings()));
    if (rec!.checkAt !== null) this.host.background(this.host.scheduleCheck(rec!.checkAt));
    const outcome = decision.kind === "investigate" ? "investigating" : decision.kind === "escalate" ? "escalated" : decision.kind === "skip" ? "skipped" : "recorded";
    return { outcome, eventId: rec!.id, reason: rec!.reason };
  }

  /**
   * Each alert of an Alertmanager notification, through the same guards; refused whole (429, which Alertmanager
   * retries) once the site took its hourly ceiling of new alerts, so that a flood cannot fill the events or the
   * activity log. Repeats of known alerts cost nothing and do not count.
   */
  alerts(payload: AlertmanagerPayload): HubResult<AlertOutcome[]> {
    const now = Date.now();
    const before = this.store.newAlertsSince(now - HOUR_MS);
    if (before >= MAX_NEW_ALERTS_PER_HOUR) {
      return fail(429, "alert_limit", `this site took ${MAX_NEW_ALERTS_PER_HOUR} new alerts in the last hour, the most it takes; send again later`);
    }
    const nodes = this.host.nodes();
    const outcomes = payload.alerts.map((alert) => {
      const trigger = alertTrigger(alert, nodes);
      const done = this.consider(trigger);
      return { fingerprint: alert.fingerprint, status: alert.status, nodeId: trigger.nodeId, eventId: done.eventId, outcome: done.outcome, reason: done.reason };
    });
    if (this.store.newAlertsSince(now - HOUR_MS) >= MAX_NEW_ALERTS_PER_HOUR) {
      this.activity.append({
        kind: "autonomy",
        level: "warn",
        nodeId: null,
        message: `autonomy: ${MAX_NEW_ALERTS_PER_HOUR} new alerts in the last hour; further alerts are refused (429) until the hour's count falls below it`,
      });
    }
    return ok(outcomes);
  }

  private decideAndRecord(t: Trigger, now: number): { decision: GuardDecision; rec: AutonomyRecord | null } {
    const existing = this.store.byKey(t.eventKey);
    if (existing) {
      this.store.countDuplicate(existing.id);
      return { decision: { kind: "duplicate", of: existing.id }, rec: null };
    }
    const settings = this.host.settings();
    const node = t.nodeId ? this.host.node(t.nodeId) : null;
    const recent = node ? this.store.recent(node.id, t.subject, now - settings.autonomyCooldownMinutes * 60_000) : null;
    const decision = decide({
      trigger: t.trigger,
      duplicateOf: null,
      enabled: settings.autonomyEnabled,
      node: node ? { id: node.id, aiToolsAllowed: node.aiToolsAllowed, online: this.host.isOnline(node.id) } : null,
      recent: recent ? { id: recent.id, status: recent.status } : null,
      cooldownMinutes: settings.autonomyCooldownMinutes,
      active: this.store.activeCount(),
      maxActive: settings.autonomyMaxActive,
      startedLastHour: this.store.investigationsSince(now - HOUR_MS),
      maxPerHour: MAX_INVESTIGATIONS_PER_HOUR,
      hasSiteKey: this.host.hasSiteKey(),
    });
    const id = newEventId();
    const base = { id, source: t.source, trigger: t.trigger, eventKey: t.eventKey, nodeId: node?.id ?? null, subject: t.subject, detail: t.detail, context: t.context };
    const none = { email: "none", webhook: "none" } as const;
    switch (decision.kind) {
      case "record":
        this.store.insert({ ...base, status: "recorded", skipReason: null, reason: null, conversationId: null, checkAt: null, channels: none }, now);
        break;
      case "skip":
        this.store.insert({ ...base, status: "skipped", skipReason: decision.reason, reason: decision.why, conversationId: null, checkAt: null, channels: none }, now);
        break;
      case "escalate":
        this.store.insert(
          { ...base, status: decision.status, skipReason: null, reason: decision.why, conversationId: null, checkAt: now + ESCALATION_CHECK_MS, channels: this.escalator.channels(settings, now) },
          now,
        );
        break;
      case "investigate":
        this.store.insert(
          { ...base, status: "investigating", skipReason: null, reason: null, conversationId: `c-${crypto.randomUUID()}`, checkAt: now + CHECK_MS, channels: none },
          now,
        );
        break;
      case "duplicate":
        return { decision, rec: null };
    }
    return { decision, rec: this.store.get(id) };
  }

  private log(rec: AutonomyRecord, decision: GuardDecision): void {
    const what =
      decision.kind === "investigate"
        ? `investigating in conversation ${rec.conversationId}`
        : decision.kind === "record"
          ? "recorded"
          : decision.kind === "skip"
            ? `skipped (${decision.reason}: ${decision.why})`
            : decision.kind === "escalate"
              ? `${decision.status}, without an investigation: ${decision.why}`
              : "duplicate";
    this.activity.append({
      kind: "autonomy",
      level: decision.kind === "escalate" ? "warn" : "info",
      nodeId: rec.nodeId,
      message: `autonomy: ${rec.detail}: ${what}`,
      data: { eventId: rec.id, eventKey: rec.eventKey, status: rec.status, skipReason: rec.skipReason, conversationId: rec.conversationId },
    });
  }

  /** Starts (or, after a restart, re-asks for) the conversation of an investigating event. */
  private async launch(id: string): Promise<void> {
    const rec = this.store.get(id);
    if (!rec || rec.status !== "investigating" || !rec.conversationId || !rec.nodeId) return;
    this.store.countLaunch(id);
    const settings = this.host.settings();
    const started = (await this.host.conversation(rec.conversationId).startInvestigation({
      id: rec.conversationId,
      site: this.host.site(),
      eventId: rec.id,
      nodeId: rec.nodeId,
      title: investigationTitle(rec),
      briefing: briefing(rec, this.host.node(rec.nodeId)),
      directive: settings.autonomyDirective,
      toolTier: settings.autonomyMaxTier as RiskTier,
      stepLimit: settings.autonomyStepLimit,
      model: settings.autonomyModel,
    })) as HubResult<unknown>;
    if (!started.ok) await this.finish(id, { status: "failed", reason: `the investigation could not start: ${started.error.message}` }, null);
  }

  /** The conversation's report of how an investigation ended (the first report counts; later ones change nothing). */
  async ended(report: InvestigationReport): Promise<HubResult<{ status: AutonomyStatus }>> {
    const rec = this.store.get(report.eventId);
    if (!rec || rec.conversationId !== report.conversationId) return fail(404, "event_not_found", `no investigation ${report.eventId} in conversation ${report.conversationId}`);
    if (rec.status !== "investigating") return ok({ status: rec.status });
    const status: AutonomyStatus = report.verdict ? (report.verdict.resolved ? "resolved" : "escalated") : "failed";
    const reason = report.verdict
      ? report.verdict.resolved
        ? null
        : "the investigation could not resolve it"
      : `the investigation ended without a verdict (${report.outcome}${report.note ? `: ${report.note}` : ""})`;
    await this.finish(report.eventId, { status, reason }, report);
    return ok({ status });
  }

  private async finish(id: string, end: { status: AutonomyStatus; reason: string | null }, report: InvestigationReport | null): Promise<void> {
    const settings = this.host.settings();
    const escalate = end.status !== "resolved";
    const now = Date.now();
    const channels: Record<Channel, ChannelStatus> = escalate ? this.escalator.channels(settings, now) : { email: "none", webhook: "none" };
    const changed = this.store.end(
      id,
      {
        status: end.status,
        reason: end.reason?.slice(0, 2_000) ?? null,
        verdict: report?.verdict ?? null,
        actions: report?.actions ?? [],
        usage: report?.usage ?? null,
        channels,
        checkAt: escalate ? now + ESCALATION_CHECK_MS : null,
      },
      now,
    );
    if (!changed) return;
    const rec = this.store.get(id)!;
    this.activity.append({
      kind: "autonomy",
      level: end.status === "resolved" ? "info" : "warn",
      nodeId: rec.nodeId,
      // Not the verdict's summary: every reader of the site reads this log, and the event shows it to those who may.
      message: `autonomy: investigation ${rec.id} of ${rec.detail}: ${end.status}${end.reason ? ` (${end.reason})` : ""}`,
      data: { eventId: rec.id, conversationId: rec.conversationId, status: end.status, usage: rec.usage },
    });
    if (escalate) {
      await this.host.scheduleCheck(now + ESCALATION_CHECK_MS);
      await this.escalator.deliver(id, settings);
    }
  }

  /** Channels a stopped hub left mid-send: marked unknown, never sent again. */
  recoverAfterRestart(): void {
    for (const rec of this.store.abandonSending(Date.now())) {
      this.activity.append({
        kind: "autonomy",
        level: "error",
        nodeId: rec.nodeId,
        message: `autonomy: the hub stopped while sending the escalation of ${rec.id}; whether it arrived is unknown and it is not sent again`,
        data: { eventId: rec.id },
      });
    }
  }

  /** The alarm's share: investigations whose check is due, and escalations still pending. */
  async sweep(now: number): Promise<void> {
    for (const rec of this.store.due(now)) {
      if (rec.status === "investigating") await this.check(rec, now);
      else if (pending(rec)) await this.escalator.deliver(rec.id, this.host.settings());
      else this.store.setCheck(rec.id, null);
    }
  }

  nextCheck(): number | null {
    return this.store.nextCheck();
  }

  /** An investigation whose conversation was deleted fails (and is escalated): nobody learns what it found. */
  async deleted(eventId: string, by: string): Promise<void> {
    const rec = this.store.get(eventId);
    if (rec?.status !== "investigating") return;
    await this.finish(rec.id, { status: "failed", reason: `its conversation was deleted by ${by}` }, null);
  }

  private async check(rec: AutonomyRecord, now: number): Promise<void> {
    this.store.setCheck(rec.id, now + CHECK_MS);
    const stub = this.host.conversation(rec.conversationId!);
    const state = (await stub.investigationState()) as InvestigationState;
    if (state.state === "ended") {
      await this.ended(state.report);
    } else if (state.state === "missing") {
      if (rec.launches < MAX_LAUNCHES) await this.launch(rec.id);
      else await this.finish(rec.id, { status: "failed", reason: `the investigation could not be started after ${rec.launches} attempts` }, null);
    } else if (now - rec.createdAt > MAX_INVESTIGATION_MS) {
      await stub.stopInvestigation(`ran longer than ${MAX_INVESTIGATION_MS / 60_000} minutes`);
    }
  }

  list(q: AutonomyEventListQuery, viewer: Viewer): AutonomyEventListResponse {
    const page = this.store.list(q);
    return { events: page.events.map((rec) => eventView(rec, viewer)), nextBefore: page.nextBefore, active: this.store.activeCount(), maxActive: this.host.settings().autonomyMaxActive };
  }

  get(id: string, viewer: Viewer): HubResult<AutonomyEventView> {
    const rec = this.store.get(id);
    return rec ? ok(eventView(rec, viewer)) : fail(404, "event_not_found", `autonomy event ${id} not found`);
  }
}
