import type { ProcessEvent, ProcessStatus, SupervisionStatus } from "../../protocol/processes.ts";

/**
 * The status the hub shows between two heartbeats: the last report with the events since applied, so a crash or a
 * relaunch shows at once. The next heartbeat replaces it with what the agent measured.
 */
export function statusAfterEvent(status: SupervisionStatus, event: ProcessEvent): SupervisionStatus {
  const processes = status.processes.map((p) => (p.name === event.name ? applied(p, event) : p));
  return { ...status, processes };
}

/** How the agent words a start the tier policy refused. */
const REFUSED = "refused: ";

function applied(p: ProcessStatus, e: ProcessEvent): ProcessStatus {
  const exit = { at: e.at, code: e.exitCode ?? null, signal: e.signal ?? null };
  switch (e.kind) {
    case "started":
      return { ...p, state: "running", pid: e.pid ?? p.pid, reason: null, nextStartAt: null };
    case "restarted":
      return { ...p, state: "running", pid: e.pid ?? p.pid, reason: null, nextStartAt: null, restarts: p.restarts + 1 };
    case "exited":
    case "crashed":
    case "start_failed": {
      if (e.reason?.startsWith(REFUSED)) return { ...p, state: "refused", pid: null, nextStartAt: null, reason: e.reason.slice(REFUSED.length) };
      const retrying = e.retryInMs !== undefined;
      return {
        ...p,
        state: retrying ? "waiting" : "stopped",
        pid: null,
        startedAt: null,
        cpuPercent: null,
        memoryBytes: null,
        lastExit: { ...exit, kind: e.kind },
        nextStartAt: retrying ? e.at + e.retryInMs! : null,
      };
    }
    case "gave_up":
      return { ...p, state: "gave_up", pid: null, nextStartAt: null, reason: e.reason ?? p.reason };
    case "stopped":
      return { ...p, state: "stopped", pid: null, startedAt: null, cpuPercent: null, memoryBytes: null, lastExit: { ...exit, kind: "stopped" }, nextStartAt: null };
  }
}
