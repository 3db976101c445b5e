import type { AlertmanagerAlert, AutonomySource, AutonomyTrigger } from "../../../protocol/autonomy.ts";
import type { NodeView } from "../../../protocol/api.ts";
import type { ProcessEvent } from "../../../protocol/processes.ts";
import { redactText, redactValue } from "../../../protocol/redaction.ts";
import { processEventActivity } from "../process-activity.ts";

/** Something that may start an investigation, from a supervised process or from Alertmanager. */
export interface Trigger {
  source: AutonomySource;
  trigger: AutonomyTrigger;
  /** Seen once: a second trigger with the same key is a duplicate. */
  eventKey: string;
  nodeId: string | null;
  /** What the cooldown is counted by on the machine: the process's name, or the alert's name. */
  subject: string;
  /** One line a person reads (redacted). */
  detail: string;
  /** The event itself, for the investigation's briefing (redacted). */
  context: Record<string, unknown>;
}

const INVESTIGATED: Partial<Record<ProcessEvent["kind"], AutonomyTrigger>> = {
  crashed: "crashed",
  start_failed: "start_failed",
  gave_up: "gave_up",
};

/** A supervised process's event, if it is one that starts an investigation (a crash, a failed start, a give-up). */
export function processTrigger(nodeId: string, event: ProcessEvent): Trigger | null {
  const trigger = INVESTIGATED[event.kind];
  if (!trigger) return null;
  return {
    source: "process",
    trigger,
    eventKey: `${nodeId}/${event.id}`,
    nodeId,
    subject: event.name,
    detail: redactText(processEventActivity(nodeId, event).message),
    context: { kind: "process_event", event: redactValue(event) as Record<string, unknown> },
  };
}

/** The alert's id: Alertmanager keeps the fingerprint and start time of an alert for as long as it fires. */
export function alertKey(alert: AlertmanagerAlert): string {
  return `am-${alert.fingerprint}@${alert.startsAt}${alert.status === "resolved" ? "/resolved" : ""}`;
}

function hostOf(instance: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(instance);
  if (bracketed) return bracketed[1]!.toLowerCase();
  return instance.replace(/:\d+$/, "").toLowerCase();
}

/**
 * The machine an alert is about: its `cortex_node` label (a node id, or a node's name), else its `instance` label's
 * host (the port dropped) as a node's id or name, else as the host name a node reports, in full or its first label.
 * Only machines still registered. Ids and names are the site admins'; a host name is whatever the machine's agent
 * says, so a machine claiming another's would take its alerts, and the investigations they start, to itself: a host
 * name matches only when exactly one machine claims it, and an alert two machines claim matches none.
 */
export function matchNode(labels: Record<string, string>, nodes: readonly NodeView[]): NodeView | null {
  const live = nodes.filter((n) => n.status !== "deregistered");
  const named = labels.cortex_node?.trim().toLowerCase();
  if (named) return live.find((n) => n.id === named) ?? live.find((n) => n.name.toLowerCase() === named) ?? null;
  const instance = labels.instance?.trim();
  if (!instance) return null;
  const host = hostOf(instance);
  const byAdmins = live.find((n) => n.id === host) ?? live.find((n) => n.name.toLowerCase() === host);
  if (byAdmins) return byAdmins;
  const short = host.split(".")[0]!;
  const claiming = live.filter((n) => {
    const reported = n.hostname?.toLowerCase();
    return reported !== undefined && (reported === host || reported.split(".")[0] === short);
  });
  return claiming.length === 1 ? claiming[0]! : null;
}

/** An Alertmanager alert as a trigger, matched to a machine of the site (or to none). */
export function alertTrigger(alert: AlertmanagerAlert, nodes: readonly NodeView[]): Trigger {
  const node = matchNode(alert.labels, nodes);
  const name = alert.labels.alertname ?? "alert";
  const summary = alert.annotations.summary ?? alert.annotations.description ?? "";
  const where = node ? `on ${node.id}` : alert.labels.instance ? `for ${alert.labels.instance}` : "";
  return {
    source: "alertmanager",
    trigger: alert.status === "firing" ? "alert_firing" : "alert_resolved",
    eventKey: alertKey(alert),
    nodeId: node?.id ?? null,
    subject: `alert:${name}`.slice(0, 200),
    detail: redactText(`Alertmanager alert ${name} ${alert.status} ${where}${summary ? `: ${summary}` : ""}`.replace(/\s+/g, " ").trim()).slice(0, 1_000),
    context: { kind: "alert", alert: redactValue(alert) as Record<string, unknown> },
  };
}
