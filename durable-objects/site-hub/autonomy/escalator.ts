import { MAX_ESCALATIONS_PER_HOUR, type ChannelStatus } from "../../../protocol/autonomy.ts";
import type { SiteSettings } from "../../../protocol/site-settings.ts";
import { isLoopbackWebhook } from "../../../protocol/webhook-url.ts";
import type { ActivityLog } from "../activity-log.ts";
import type { AutonomyRecord, AutonomyStore, Channel } from "./autonomy-store.ts";
import { escalationLinks, escalationMessage, type EscalationMessage } from "./escalation-message.ts";

/** A webhook that has not answered in this time counts as failed. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** What escalation needs from the hub's configuration (worker/env.ts). */
export interface EscalationConfig {
  /** The `send_email` binding; absent when wrangler.toml has none. */
  email: SendEmail | undefined;
  from: string;
  allowLoopbackWebhooks: boolean;
  /** The hub's public address for links, or null. */
  publicUrl(): string | null;
}

const HOUR_MS = 3600_000;

/**
 * Hands an event nobody resolved to the site's people, by email (the `send_email` binding) and by webhook (JSON with a
 * Slack-compatible `text`). Each channel of an event is sent at most once: it is claimed (pending → sending) in
 * storage before the request and settled (sent / failed) after, so a delivery asked for twice sends once, and a hub
 * that stops mid-request leaves `sending`, which its restart turns into `unknown` instead of sending again. A lost page
 * is then visible on the event and in the activity log; a duplicate page would not be.
 */
export class Escalator {
  constructor(
    private readonly store: AutonomyStore,
    private readonly activity: ActivityLog,
    private readonly config: EscalationConfig,
    private readonly site: () => string,
  ) {}

  /**
   * The channels an escalation decided now will use, by the site's settings; `suppressed` past the hourly ceiling, so
   * that a flood of events (or of alerts from a stolen alert token) pages people a bounded number of times.
   */
  channels(settings: SiteSettings, now: number): Record<Channel, ChannelStatus> {
    const on: ChannelStatus = this.store.escalationsSince(now - HOUR_MS) >= MAX_ESCALATIONS_PER_HOUR ? "suppressed" : "pending";
    return {
      email: settings.escalationEmails.length ? on : "none",
      webhook: settings.escalationWebhookUrl ? on : "none",
    };
  }

  /** Sends what is pending for the event; safe to call again (claimed channels are skipped). */
  async deliver(id: string, settings: SiteSettings): Promise<void> {
    const rec = this.store.get(id);
    if (!rec) return;
    if (rec.escalation.email.status === "none" && rec.escalation.webhook.status === "none") {
      this.activity.append({
        kind: "autonomy",
        level: "warn",
        nodeId: rec.nodeId,
        message: `autonomy: ${rec.id} (${rec.detail}) is ${rec.status}, but no escalation email or webhook is set: nobody was told`,
        data: { eventId: rec.id },
      });
    }
    if (rec.escalation.email.status === "suppressed" || rec.escalation.webhook.status === "suppressed") {
      this.activity.append({
        kind: "autonomy",
        level: "warn",
        nodeId: rec.nodeId,
        message: `autonomy: ${rec.id} (${rec.detail}) is ${rec.status}, but the site escalated ${MAX_ESCALATIONS_PER_HOUR} events in the last hour: nobody was paged for it`,
        data: { eventId: rec.id },
      });
    }
    const message = escalationMessage(rec, this.site(), escalationLinks(this.config.publicUrl(), this.site(), rec.conversationId));
    for (const channel of ["email", "webhook"] as const) {
      if (rec.escalation[channel].status !== "pending") continue;
      if (!this.store.moveChannel(id, channel, "pending", "sending", null, Date.now())) continue;
      let outcome: { status: ChannelStatus; detail: string };
      try {
        outcome = channel === "email" ? await this.email(settings, message) : await this.webhook(settings, message);
      } catch (error) {
        outcome = { status: "failed", detail: String((error as Error).message ?? error).slice(0, 500) };
      }
      this.store.moveChannel(id, channel, "sending", outcome.status, outcome.detail, Date.now());
      this.activity.append({
        kind: "autonomy",
        level: outcome.status === "sent" ? "info" : "error",
        nodeId: rec.nodeId,
        message: `autonomy: escalation of ${rec.id} by ${channel} ${outcome.status === "sent" ? "sent" : `not sent (${outcome.status}: ${outcome.detail})`}`,
        data: { eventId: rec.id, channel, status: outcome.status },
      });
    }
    const after = this.store.get(id);
    if (after && after.status !== "investigating" && !pending(after)) this.store.setCheck(id, null);
  }

  private async email(settings: SiteSettings, message: EscalationMessage): Promise<{ status: ChannelStatus; detail: string }> {
    if (!this.config.email) return { status: "unavailable", detail: "the hub has no send_email binding (see docs/autonomy.md)" };
    if (!settings.escalationEmails.length) return { status: "unavailable", detail: "no escalation email address is set any more" };
    const sent = await this.config.email.send({ from: this.config.from, to: settings.escalationEmails, subject: message.subject, text: message.text });
    return { status: "sent", detail: `message ${sent.messageId} to ${settings.escalationEmails.join(", ")}` };
  }

  private async webhook(settings: SiteSettings, message: EscalationMessage): Promise<{ status: ChannelStatus; detail: string }> {
    const url = settings.escalationWebhookUrl;
    if (!url) return { status: "unavailable", detail: "no escalation webhook URL is set any more" };
    if (isLoopbackWebhook(url) && !this.config.allowLoopbackWebhooks) return { status: "unavailable", detail: "loopback webhooks are not allowed on this hub" };
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "cortex-hub" },
      body: JSON.stringify(message.webhook),
      // A redirect could lead anywhere, including where the URL check would have refused to go.
      redirect: "manual",
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { status: "sent", detail: `HTTP ${res.status}` };
    return { status: "failed", detail: res.status >= 300 && res.status < 400 ? `HTTP ${res.status}: redirects are not followed` : `HTTP ${res.status}` };
  }
}

export function pending(rec: AutonomyRecord): boolean {
  return rec.escalation.email.status === "pending" || rec.escalation.webhook.status === "pending";
}
