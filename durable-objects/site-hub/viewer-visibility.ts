import type { ActivityEntry, DirectiveEvent, DirectiveView, RunRecord } from "../../protocol/api.ts";
import type { ResultData } from "../../protocol/directives.ts";
import type { ProcessStatus, SupervisionStatus } from "../../protocol/processes.ts";
import { redactText, redactValue } from "../../protocol/redaction.ts";
import type { DirectiveRecord } from "./directive-store.ts";
import type { Requester } from "./requester.ts";

// What a confined viewer (a member, a read or chat key) sees of directives, runs, activity and supervised
// processes; roost deployments are in roost-visibility.ts.

/** Who is looking: anyone who may read everywhere sees everything; the others see less (see `directiveFor`). */
export type Viewer = Pick<Requester, "userId" | "confined">;

/** A supervised process's status as a viewer gets it: why it is refused or gave up (the agent's words) redacted. */
export function processStatusFor(status: ProcessStatus, viewer: Pick<Viewer, "confined">): ProcessStatus {
  return viewer.confined && status.reason !== null ? { ...status, reason: redactText(status.reason) } : status;
}

/** A machine's supervision report as a viewer gets it (see `processStatusFor`). */
export function supervisionFor(report: SupervisionStatus, viewer: Pick<Viewer, "confined">): SupervisionStatus {
  return viewer.confined ? { ...report, processes: report.processes.map((p) => processStatusFor(p, viewer)) } : report;
}

/** The agent-written sentences in a result's data (why a run ended, why a process is refused), redacted. */
function redactedData(data: ResultData | null): ResultData | null {
  if (data?.kind === "run_status" && data.reason !== undefined) return { ...data, reason: redactText(data.reason) };
  if (data?.kind === "process") return { ...data, status: processStatusFor(data.status, { confined: true }) };
  return data;
}

/** What a confined directive printed, as a confined viewer gets it: through the redactor. */
function redactedOutcome(view: DirectiveView): DirectiveView {
  const late = view.lateResult;
  return {
    ...view,
    data: redactedData(view.data),
    output: view.output === null ? null : redactText(view.output),
    error: view.error === null ? null : redactText(view.error),
    lateResult: late && { ...late, output: redactText(late.output), error: late.error === null ? null : redactText(late.error) },
  };
}

/**
 * A directive as a viewer may see it. Someone who may read everywhere (a site admin) could run the directive
 * themselves, so they see it whole. Everyone else (a member, a read or chat key, which may be a model reading
 * untrusted logs) sees every output through the redactor, and only the output of directives that were themselves
 * confined to the readable paths: such output came from folders the viewer may read anyway. The output of an
 * unconfined directive (an admin's shell command, or a read outside the readable paths, or through a link in them)
 * is withheld, even from a read key of the admin who ran it: redaction removes only the secrets it recognises, and
 * a database dump, a customer list or a password in an unknown format would pass, letting a member read through an
 * admin what they may not read themselves. Parameters are redacted too, except those of a viewer's own confined
 * directives (which they wrote as they are); a read or chat key of an admin sees the admin's other work redacted.
 */
export function directiveFor(record: DirectiveRecord, viewer: Viewer): DirectiveView {
  const view = record.view;
  if (!viewer.confined) return view;
  const own = viewer.userId !== null && record.requestedByUser === viewer.userId;
  const redactedParams = redactValue(view.params) as Record<string, unknown>;
  if (record.confineTo !== null) return { ...redactedOutcome(view), params: own ? view.params : redactedParams };
  const late = view.lateResult;
  const withheld = view.output !== null || view.data?.kind === "image" || (late !== null && late.output !== "");
  return {
    ...view,
    params: redactedParams,
    error: view.error === null ? null : redactText(view.error),
    output: null,
    outputWithheld: withheld,
    data: view.data?.kind === "image" ? null : redactedData(view.data),
    lateResult: late && { ...late, output: "", error: late.error === null ? null : redactText(late.error) },
  };
}

/**
 * The events a confined requester gets while their own (confined) directive runs: no raw chunks, since a secret
 * split across two chunks would pass the redactor in halves, and the result with its output redacted whole.
 */
export function eventForConfined(event: DirectiveEvent): DirectiveEvent | null {
  if (event.event === "chunk") return null;
  if (event.event === "result") return { ...event, directive: redactedOutcome(event.directive) };
  return event;
}

/**
 * A long run as a viewer may see it. A run is launched by an unconfined command, so, as for the directive that
 * launched it, a confined viewer gets no output tail, and the end's reason (written by the agent) redacted.
 */
export function runFor(record: RunRecord, viewer: Viewer): RunRecord {
  const ended = record.ended;
  if (!viewer.confined || !ended) return record;
  return {
    ...record,
    ended: { ...ended, outputTail: "", outputWithheld: ended.outputTail !== "", reason: ended.reason === null ? null : redactText(ended.reason) },
  };
}

/** Activity entries quote errors and run reasons written by agents; a confined viewer gets them redacted. */
export function activityFor(entry: ActivityEntry, viewer: Viewer): ActivityEntry {
  if (!viewer.confined) return entry;
  return { ...entry, message: redactText(entry.message), data: entry.data === null ? null : (redactValue(entry.data) as Record<string, unknown>) };
}
