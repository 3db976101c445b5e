import type { DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import type { MachineResult, ToolCallStatus } from "../../protocol/chat.ts";
import type { ActionCall } from "../../protocol/directives.ts";
import { redactText } from "../../protocol/redaction.ts";
import { awaitFanOut, awaitResult } from "../../worker/http/directive-stream.ts";
import type { HubResult } from "../shared/hub-result.ts";
import type { Requester } from "../site-hub/requester.ts";
import type { SiteHub } from "../site-hub/site-hub.ts";
import { fanOutForModel, machineResults, singleForModel } from "./tool-output.ts";

/** How a tool call ended, for the transcript (per machine) and for the model (one text). */
export interface ToolOutcome {
  status: Extract<ToolCallStatus, "done" | "failed" | "refused" | "cancelled">;
  modelResult: string;
  results: MachineResult[];
  error: string | null;
}

/** Machines answering a site-wide tool call at once. */
const FAN_OUT_CONCURRENCY = 50;
/**
 * If the site's object restarts while a directive runs, its event stream ends without a result; the directive is
 * then followed again by its id (never sent again) this many times, a second apart.
 */
const FOLLOW_ATTEMPTS = 30;
const FOLLOW_PAUSE_MS = 1_000;

type Hub = DurableObjectStub<SiteHub>;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function statusOf(d: DirectiveView): ToolOutcome["status"] {
  if (d.status === "done") return "done";
  if (d.status === "cancelled") return "cancelled";
  if (d.status === "refused") return "refused";
  return "failed";
}

/** A refusal before anything was sent: said to the model and shown in the transcript the same way. */
export function notRun(status: "refused" | "failed", reason: string): ToolOutcome {
  return { status, modelResult: `Not run: ${reason}`, results: [], error: reason };
}

/**
 * Runs an agent-side tool on one machine as the directive `directiveId` (recorded by the caller before this call).
 * Asking the site with an id it already knows follows that directive instead of running it again, so this may be
 * called again after a restart.
 */
export async function runOnNode(hub: Hub, nodeId: string, call: ActionCall, directiveId: string, requester: Requester, stopped: () => boolean): Promise<ToolOutcome> {
  for (let attempt = 0; attempt < FOLLOW_ATTEMPTS; attempt++) {
    const opened = (await hub.runDirective(nodeId, { action: call.action, params: call.params as Record<string, unknown> }, requester, { id: directiveId, viaChat: true })) as HubResult<{
      directiveId: string;
      stream: ReadableStream<Uint8Array>;
    }>;
    // 403: outside the readable paths of a confined asker; 404: no such machine. Either way nothing ran.
    if (!opened.ok) return notRun(opened.error.status === 403 || opened.error.status === 404 ? "refused" : "failed", opened.error.message);
    const view = await awaitResult(opened.value.stream);
    if (view) {
      // The agent's error quotes what programs printed: it passes the redactor like the output does.
      const error = view.status === "done" || view.error === null ? null : redactText(view.error);
      return { status: statusOf(view), modelResult: singleForModel(view), results: machineResults([view]), error };
    }
    if (stopped()) break;
    await sleep(FOLLOW_PAUSE_MS);
  }
  return notRun("failed", `lost track of directive ${directiveId}; see it in the machine's history`);
}

/**
 * Runs an agent-side tool on the machines a call to every machine was pinned to, as one fan-out `fanoutId` (recorded
 * before this call); those that went offline since count as offline.
 */
export async function runOnAll(hub: Hub, call: ActionCall, nodeIds: string[], fanoutId: string, requester: Requester, stopped: () => boolean): Promise<ToolOutcome> {
  for (let attempt = 0; attempt < FOLLOW_ATTEMPTS; attempt++) {
    const opened = (await hub.fanOut(
      { action: call.action, params: call.params as Record<string, unknown>, target: { nodes: nodeIds }, concurrency: FAN_OUT_CONCURRENCY },
      requester,
      { id: fanoutId, viaChat: true },
    )) as HubResult<{ fanoutId: string; stream: ReadableStream<Uint8Array> }>;
    if (!opened.ok) return notRun("failed", opened.error.message);
    const { aggregate, directives } = await awaitFanOut(opened.value.stream);
    if (aggregate) return fanOutOutcome(directives, aggregate);
    if (stopped()) break;
    await sleep(FOLLOW_PAUSE_MS);
  }
  return notRun("failed", `lost track of fan-out ${fanoutId}; see it in the site's directives`);
}

function fanOutOutcome(directives: DirectiveView[], aggregate: FanOutAggregate): ToolOutcome {
  const modelResult = fanOutForModel(directives, aggregate);
  const results = machineResults(directives);
  if (aggregate.total === 0) return notRun("refused", "no machine of the site was online; nothing was run");
  if (aggregate.succeeded > 0) return { status: "done", modelResult, results, error: null };
  const status: ToolOutcome["status"] =
    aggregate.refused === aggregate.total ? "refused" : aggregate.cancelled === aggregate.total ? "cancelled" : "failed";
  return { status, modelResult, results, error: `no machine succeeded (${aggregate.failed} failed, ${aggregate.offline} offline, ${aggregate.refused} refused)` };
}
