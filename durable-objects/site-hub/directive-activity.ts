import type { ActivityLevel, DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import { clip, counted, outcomeCounts, summarizeCall } from "../../protocol/directive-summary.ts";
import type { ActionName } from "../../protocol/directives.ts";
import type { RunCompleteMessage } from "../../protocol/node-messages.ts";
import { redactText } from "../../protocol/redaction.ts";
import type { ActivityChange } from "./activity-log.ts";

/**
 * How a directive reads in the activity log: one entry per directive saying what ran (secrets redacted, since
 * everyone on the site reads it), on which machine, by whom and how it ended. Its level means something: what a
 * person asked for and got (done, or cancelled by them) is info; anything the asker did not want is a warning.
 */

const WHAT_CHARS = 200;

/** The redacted, one-line description of what a call does. Redacted whole before it is cut, so no secret is half kept. */
export function whatRan(action: ActionName, params: Record<string, unknown>): string {
  return clip(redactText(summarizeCall(action, params)), WHAT_CHARS);
}

function ranText(actor: string, action: ActionName, what: string, where: string): string {
  return `${actor} ran ${action}${what ? ` ${JSON.stringify(what)}` : ""} on ${where}`;
}

function seconds(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const s = Math.round(ms / 1_000);
  return s < 3_600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`;
}

function tookMs(d: DirectiveView): number | null {
  const start = d.startedAt ?? d.sentAt;
  return d.endedAt !== null && start !== null ? d.endedAt - start : null;
}

/** How it ended (or that it has not), in words. */
function outcomeText(d: DirectiveView, cancelledBy: string | null): string {
  const took = tookMs(d);
  const exit = d.exitCode !== null ? ` (exit ${d.exitCode})` : "";
  // An error that only repeats the exit code ("exit code 3") adds nothing to "(exit 3)".
  const reason = d.error && d.error !== `exit code ${d.exitCode}` ? `: ${d.error}` : "";
  switch (d.status) {
    case "queued":
      return d.fanoutId ? "queued" : "started";
    // A single directive is recorded already sent, and its entry is written then: it reads as started until it ends.
    case "sent":
      return "started";
    case "running":
      return "running";
    case "done":
      return `done${exit}${took !== null ? ` in ${seconds(took)}` : ""}`;
    case "failed":
      return d.errorCode === "offline" ? `not sent: the machine is offline` : `failed${exit}${reason}`;
    case "refused":
      return `refused by the machine's tier${reason}`;
    case "cancelled":
      return cancelledBy ? `cancelled by ${cancelledBy}` : `cancelled${reason}`;
    case "timed_out":
      return `timed out after ${seconds(d.timeoutMs)}`;
    case "lost":
      return `lost${reason}`;
  }
}

/** Info when it went as the asker wanted (or they stopped it themselves), a warning otherwise. */
export function directiveLevel(d: DirectiveView, cancelledBy: string | null): ActivityLevel {
  if (["queued", "sent", "running", "done"].includes(d.status)) return "info";
  return d.status === "cancelled" && cancelledBy ? "info" : "warn";
}

/** A directive's entry as it is now; `what` comes from `whatRan` on its params. */
export function directiveChange(d: DirectiveView, nodeName: string, what: string, cancelledBy: string | null = null): ActivityChange {
  const where = nodeName === d.nodeId ? nodeName : `${nodeName} (${d.nodeId})`;
  return {
    level: directiveLevel(d, cancelledBy),
    message: `${ranText(d.requestedBy, d.action, what, where)}: ${outcomeText(d, cancelledBy)}`,
    data: {
      directiveId: d.id,
      action: d.action,
      what,
      nodeName,
      status: d.status,
      exitCode: d.exitCode,
      durationMs: tookMs(d),
      ...(d.fanoutId ? { fanoutId: d.fanoutId } : {}),
      ...(d.errorCode ? { errorCode: d.errorCode } : {}),
      ...(cancelledBy ? { cancelledBy } : {}),
    },
  };
}

/** A long run's launch entry once the run has ended on the machine, possibly long after the launch. */
export function runEndedChange(launch: DirectiveView, nodeName: string, what: string, run: RunCompleteMessage): ActivityChange {
  const base = directiveChange(launch, nodeName, what);
  const exit = run.exitCode !== null ? ` (exit ${run.exitCode})` : "";
  return {
    level: run.state === "done" || run.state === "cancelled" ? "info" : "warn",
    message: `${base.message}; run ${run.runId} ended ${run.state}${exit} after ${seconds(Math.max(0, run.endedAt - run.startedAt))}${run.reason ? `: ${run.reason}` : ""}`,
    data: { ...base.data, runId: run.runId, runState: run.state, runExitCode: run.exitCode },
  };
}

/**
 * A lost directive's entry once the agent's result arrives after all (the machine came back): still a warning, since
 * nobody saw it end when it did, and now saying how it ended.
 */
export function lateResultChange(d: DirectiveView, nodeName: string, what: string, late: { success: boolean; exitCode?: number | null; error?: string }): ActivityChange {
  const base = directiveChange(d, nodeName, what);
  const exit = late.exitCode !== null && late.exitCode !== undefined ? ` (exit ${late.exitCode})` : "";
  const how = late.success ? `succeeded${exit}` : `failed${exit}${late.error && late.error !== `exit code ${late.exitCode}` ? `: ${late.error}` : ""}`;
  return {
    level: "warn",
    message: `${base.message}; it finished after all: ${how}`,
    data: { ...base.data, late: true, lateSuccess: late.success, lateExitCode: late.exitCode ?? null },
  };
}

/** A fan-out's entry: what ran on how many machines, then how it went on them. */
export function fanOutChange(
  f: { fanoutId: string; actor: string; action: ActionName; what: string; total: number; skippedOffline: number },
  aggregate: FanOutAggregate | null,
): ActivityChange {
  const where = `${counted(f.total, "machine")}${f.skippedOffline ? ` (${counted(f.skippedOffline, "offline machine")} not asked)` : ""}`;
  const head = ranText(f.actor, f.action, f.what, where);
  const data = { fanoutId: f.fanoutId, action: f.action, what: f.what, total: f.total, skippedOffline: f.skippedOffline };
  if (!aggregate) return { level: "info", message: `${head}: started`, data };
  const clean = aggregate.succeeded + aggregate.cancelled === aggregate.total;
  return { level: clean ? "info" : "warn", message: `${head}: ${outcomeCounts(aggregate).join(", ")}`, data: { ...data, aggregate } };
}
