import type { AutonomyStatus, AutonomyTrigger, SkipReason } from "../../../protocol/autonomy.ts";

/** What the guards look at, all read in the same synchronous step as the decision is stored. */
export interface GuardFacts {
  trigger: AutonomyTrigger;
  /** An event already recorded under the same event id. */
  duplicateOf: string | null;
  enabled: boolean;
  /** The machine the event is about; null when an alert matched none. */
  node: { id: string; aiToolsAllowed: boolean; online: boolean } | null;
  /** The latest investigation or escalation of the same machine and subject within the cooldown. */
  recent: { id: string; status: AutonomyStatus } | null;
  cooldownMinutes: number;
  active: number;
  maxActive: number;
  /** Investigations started on the site in the last hour, against the hourly ceiling. */
  startedLastHour: number;
  maxPerHour: number;
  hasSiteKey: boolean;
}

export type GuardDecision =
  | { kind: "duplicate"; of: string }
  | { kind: "record" }
  | { kind: "skip"; reason: SkipReason; why: string }
  | { kind: "escalate"; status: Extract<AutonomyStatus, "escalated" | "failed">; why: string }
  | { kind: "investigate" };

/**
 * The guards, in order. A give-up (the supervisor used up its relaunches: a crash loop) is never dropped quietly: when
 * it cannot be investigated it is escalated, unless the same process was escalated within the cooldown already.
 */
export function decide(f: GuardFacts): GuardDecision {
  if (f.duplicateOf) return { kind: "duplicate", of: f.duplicateOf };
  if (f.trigger === "alert_resolved") return { kind: "record" };
  if (!f.node) return { kind: "skip", reason: "unmatched", why: "the alert names no machine of this site, or a host name more than one machine reports (label cortex_node, or instance by host name)" };
  const crashLoop = f.trigger === "gave_up";

  const off = !f.enabled ? "autonomous investigations are off on this site" : !f.node.aiToolsAllowed ? `AI tools are turned off on machine ${f.node.id}` : null;
  if (off) return crashLoop ? { kind: "escalate", status: "escalated", why: `the process gave up after repeated crashes and ${off}` } : { kind: "skip", reason: "disabled", why: off };

  if (f.recent) {
    const ongoing = f.recent.status === "investigating" || f.recent.status === "resolved";
    if (crashLoop && ongoing) {
      return { kind: "escalate", status: "escalated", why: `the process gave up after repeated crashes, after investigation ${f.recent.id} (${f.recent.status})` };
    }
    return { kind: "skip", reason: "cooldown", why: `${f.recent.id} (${f.recent.status}) is within the ${f.cooldownMinutes}-minute cooldown` };
  }

  if (!f.node.online) return { kind: "escalate", status: "escalated", why: `machine ${f.node.id} is offline, so it cannot be investigated` };

  if (f.active >= f.maxActive) {
    const busy = `${f.active} investigations are running, the most this site allows at once`;
    return crashLoop ? { kind: "escalate", status: "escalated", why: `the process gave up after repeated crashes and ${busy}` } : { kind: "skip", reason: "busy", why: busy };
  }

  if (f.startedLastHour >= f.maxPerHour) {
    const spent = `${f.startedLastHour} investigations started on this site in the last hour, the most it allows`;
    return crashLoop ? { kind: "escalate", status: "escalated", why: `the process gave up after repeated crashes and ${spent}` } : { kind: "skip", reason: "hourly_limit", why: spent };
  }

  if (!f.hasSiteKey) return { kind: "escalate", status: "failed", why: "the site has no AI key, which investigations need (a site admin adds one in Settings → AI key)" };
  return { kind: "investigate" };
}
