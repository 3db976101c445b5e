import type { ActivityLevel } from "../../protocol/api.ts";
import type { ProcessEvent } from "../../protocol/processes.ts";
import type { NewActivity } from "./activity-log.ts";

const LEVEL: Record<ProcessEvent["kind"], ActivityLevel> = {
  started: "info",
  restarted: "info",
  stopped: "info",
  exited: "info",
  crashed: "warn",
  start_failed: "warn",
  gave_up: "error",
};

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function how(e: ProcessEvent): string {
  if (e.signal) return `killed by ${e.signal}`;
  if (e.exitCode !== undefined && e.exitCode !== null) return `exit code ${e.exitCode}`;
  return "";
}

const CAUSE: Record<NonNullable<ProcessEvent["cause"]>, string> = {
  request: "on request",
  schedule: "by its schedule",
  config: "for a configuration change",
  supervisor: "by the supervisor",
};

/** The activity log entry of a process event: one sentence a person reads, and the event itself as data. */
export function processEventActivity(nodeId: string, e: ProcessEvent): NewActivity {
  const subject = `process ${e.name} on node ${nodeId}`;
  const pid = e.pid ? ` (pid ${e.pid})` : "";
  const exit = how(e);
  const parts: string[] = [];
  switch (e.kind) {
    case "started":
      parts.push(`${subject} started${pid}${e.cause ? ` ${CAUSE[e.cause]}` : ""}`);
      break;
    case "restarted":
      parts.push(`${subject} restarted${pid}`);
      break;
    case "stopped":
      parts.push(`${subject} stopped${pid}${e.cause ? ` ${CAUSE[e.cause]}` : ""}${exit ? ` (${exit})` : ""}`);
      break;
    case "exited":
    case "crashed":
      parts.push(`${subject} ${e.kind === "crashed" ? "crashed" : "exited"}${pid}${exit ? ` with ${exit}` : ""}${e.uptimeMs !== undefined ? ` after ${seconds(e.uptimeMs)}` : ""}`);
      break;
    case "start_failed":
      parts.push(`${subject} failed to start${pid}`);
      break;
    case "gave_up":
      parts.push(`${subject}: gave up relaunching`);
      break;
  }
  if (e.reason) parts.push(e.reason);
  if (e.retryInMs !== undefined) parts.push(`relaunch ${e.attempt ?? "?"} of ${e.maxAttempts ?? "?"} in ${seconds(e.retryInMs)}`);
  return {
    kind: "process",
    level: LEVEL[e.kind],
    nodeId,
    message: parts.join("; "),
    data: { event: e },
  };
}
