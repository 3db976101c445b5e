import type { DirectiveView } from "../../protocol/api.ts";
import {
  launchText,
  ProcessPatch,
  ProcessSpec,
  type ProcessListResponse,
  type ProcessOperation,
  type ProcessStatus,
  type ProcessView,
} from "../../protocol/processes.ts";
import { redactText } from "../../protocol/redaction.ts";
import type { HubToolHandler, HubToolInput } from "../../protocol/tools/hub-tools.ts";
import { awaitResult } from "../../worker/http/directive-stream.ts";
import { MODEL_OUTPUT_CHARS } from "../conversation/tool-output.ts";
import type { z } from "zod";
import type { HubResult } from "../shared/hub-result.ts";
import type { Requester } from "./requester.ts";
import { commandText } from "./site-processes.ts";

/**
 * The hub side of the chat's process tools (get_process_list ... delete_process). Each calls the same SiteHub
 * methods as the API routes and the CLI, so a model gets exactly the validation, tier checks and records a person
 * gets; the risk tier of each tool is checked by the chat before it calls here. The answer is one text for the model,
 * passed through the redactor.
 */

type Awaitable<T> = T | Promise<T>;
type Opened = HubResult<{ directiveId: string; stream: ReadableStream<Uint8Array> }>;

/** The SiteHub methods the tools use: the object itself, or its stub in another object (the chat's Conversation). */
export interface ProcessToolHub {
  listProcesses(nodeId: string, viewer: Requester): Awaitable<HubResult<ProcessListResponse>>;
  addProcess(nodeId: string, spec: ProcessSpec, actor: string): Awaitable<HubResult<ProcessView>>;
  updateProcess(nodeId: string, name: string, patch: z.output<typeof ProcessPatch>, actor: string): Awaitable<HubResult<ProcessView>>;
  removeProcess(nodeId: string, name: string, actor: string): Awaitable<HubResult<{ name: string; removed: true }>>;
  controlProcess(nodeId: string, name: string, operation: ProcessOperation, requester: Requester): Awaitable<Opened>;
  processLogs(nodeId: string, name: string, lines: number, requester: Requester): Awaitable<Opened>;
}

export type ProcessToolHandler = Extract<HubToolHandler, `process_${string}`>;

export interface ProcessToolOutcome {
  ok: boolean;
  text: string;
}

/** Answers longer than the model's share of tool output are cut from the start, keeping the latest lines of a log. */
function answer(ok: boolean, text: string): ProcessToolOutcome {
  const redacted = redactText(text);
  return {
    ok,
    text: redacted.length > MODEL_OUTPUT_CHARS ? `[… cut to the last ${MODEL_OUTPUT_CHARS} characters]\n${redacted.slice(-MODEL_OUTPUT_CHARS)}` : redacted,
  };
}

function refused<T>(result: HubResult<T>): ProcessToolOutcome | null {
  return result.ok ? null : answer(false, `Not done: ${result.error.message}`);
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

function when(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function statusLine(s: ProcessStatus | null, now: number): string {
  if (!s) return "no report from the agent yet";
  const parts = [s.state.replace("_", " ")];
  if (s.pid) parts.push(`pid ${s.pid}`);
  if (s.startedAt) parts.push(`up ${duration(now - s.startedAt)}`);
  parts.push(`${s.restarts} restart(s)`);
  if (s.lastExit) parts.push(`last exit ${s.lastExit.kind.replace("_", " ")} (${s.lastExit.signal ?? (s.lastExit.code === null ? "status unknown" : `exit code ${s.lastExit.code}`)}) at ${when(s.lastExit.at)}`);
  if (s.cpuPercent !== null) parts.push(`cpu ${s.cpuPercent}%`);
  if (s.memoryBytes !== null) parts.push(`memory ${Math.round(s.memoryBytes / 1048576)} MB`);
  if (s.held) parts.push(`held ${s.held} by hand`);
  if (s.nextStartAt) parts.push(`next start ${when(s.nextStartAt)}`);
  if (s.reason) parts.push(s.reason);
  return parts.join(", ");
}

function processLine(p: ProcessView, now: number): string {
  return `- ${p.name}: ${statusLine(p.status, now)}\n  runs ${commandText(p.spec)}${p.spec.cwd ? ` in ${p.spec.cwd}` : ""}; launch ${launchText(p.spec)}`;
}

async function list(hub: ProcessToolHub, input: HubToolInput<"process_list">, requester: Requester): Promise<ProcessToolOutcome> {
  const result = await hub.listProcesses(input.machine, requester);
  if (!result.ok) return refused(result)!;
  const r = result.value;
  if (!r.processes.length) return answer(true, `No supervised processes on ${input.machine}.`);
  const now = Date.now();
  const sync = r.appliedVersion === r.configVersion ? "the agent runs this list" : r.appliedVersion === null ? "the agent has not reported this list yet" : "the agent still runs an older list";
  const head = `${r.processes.length} supervised process(es) on ${input.machine} (${sync}${r.timeZone ? `; schedules in ${r.timeZone}` : ""}${r.reportedAt ? `; reported ${when(r.reportedAt)}` : ""}):`;
  return answer(true, [head, ...r.processes.map((p) => processLine(p, now))].join("\n"));
}

async function followed(opened: Opened): Promise<DirectiveView | ProcessToolOutcome> {
  if (!opened.ok) return refused(opened)!;
  const view = await awaitResult(opened.value.stream);
  return view ?? answer(false, `Lost track of directive ${opened.value.directiveId}; see it in the machine's history.`);
}

async function logs(hub: ProcessToolHub, input: HubToolInput<"process_logs">, requester: Requester): Promise<ProcessToolOutcome> {
  const view = await followed(await hub.processLogs(input.machine, input.name, input.lines, requester));
  if (!("id" in view)) return view;
  if (view.status !== "done") return answer(false, `Could not read the log of ${input.name}: ${view.error ?? view.status}`);
  const text = view.output ?? "";
  return answer(true, text ? `Last lines of ${input.name} on ${input.machine}:\n${text}` : `The log of ${input.name} on ${input.machine} is empty.`);
}

function control(operation: ProcessOperation) {
  return async (hub: ProcessToolHub, input: HubToolInput<"process_start">, requester: Requester): Promise<ProcessToolOutcome> => {
    const view = await followed(await hub.controlProcess(input.machine, input.name, operation, requester));
    if (!("id" in view)) return view;
    const status = view.data?.kind === "process" ? `\nNow: ${statusLine(view.data.status, Date.now())}` : "";
    if (view.status !== "done") return answer(false, `Could not ${operation} ${input.name}: ${view.error ?? view.status}${status}`);
    return answer(true, `${(view.output ?? "").trim() || `${operation} done`}${status}`);
  };
}

/** The tool's environment list as the configuration's map; a name given twice is refused rather than guessed. */
function envOf(env: { name: string; value: string }[] | undefined): Record<string, string> | string | undefined {
  if (!env) return undefined;
  const out: Record<string, string> = {};
  for (const { name, value } of env) {
    if (Object.hasOwn(out, name)) return `environment variable ${name} is given twice`;
    out[name] = value;
  }
  return out;
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join(".") || "process"}: ${i.message}`)
    .join("; ");
}

async function add(hub: ProcessToolHub, input: HubToolInput<"process_add">, requester: Requester): Promise<ProcessToolOutcome> {
  const { machine, env, ...rest } = input;
  const vars = envOf(env);
  if (typeof vars === "string") return answer(false, `Not done: ${vars}`);
  const spec = ProcessSpec.safeParse({ ...rest, ...(vars ? { env: vars } : {}) });
  if (!spec.success) return answer(false, `Not done: ${issues(spec.error)}`);
  const result = await hub.addProcess(machine, spec.data, requester.actor);
  if (!result.ok) return refused(result)!;
  return answer(true, `Added ${spec.data.name} on ${machine}: ${commandText(spec.data)} (launch ${spec.data.launchMode}). The agent starts it when its launch mode says so.`);
}

async function update(hub: ProcessToolHub, input: HubToolInput<"process_update">, requester: Requester): Promise<ProcessToolOutcome> {
  const { machine, name, env, ...rest } = input;
  const vars = envOf(env);
  if (typeof vars === "string") return answer(false, `Not done: ${vars}`);
  const patch = ProcessPatch.safeParse(Object.fromEntries(Object.entries({ ...rest, env: vars }).filter(([, v]) => v !== undefined)));
  if (!patch.success) return answer(false, `Not done: ${issues(patch.error)}`);
  const result = await hub.updateProcess(machine, name, patch.data, requester.actor);
  if (!result.ok) return refused(result)!;
  return answer(true, `Updated ${name} on ${machine} (${Object.keys(patch.data).join(", ")}); now: ${commandText(result.value.spec)}, launch ${result.value.spec.launchMode}.`);
}

async function launchMode(hub: ProcessToolHub, input: HubToolInput<"process_launch_mode">, requester: Requester): Promise<ProcessToolOutcome> {
  const patch = ProcessPatch.safeParse({ launchMode: input.launchMode, ...(input.schedule ? { schedule: input.schedule } : {}) });
  if (!patch.success) return answer(false, `Not done: ${issues(patch.error)}`);
  const result = await hub.updateProcess(input.machine, input.name, patch.data, requester.actor);
  if (!result.ok) return refused(result)!;
  return answer(true, `${input.name} on ${input.machine} now runs: ${launchText(result.value.spec)}.`);
}

async function remove(hub: ProcessToolHub, input: HubToolInput<"process_remove">, requester: Requester): Promise<ProcessToolOutcome> {
  const result = await hub.removeProcess(input.machine, input.name, requester.actor);
  if (!result.ok) return refused(result)!;
  return answer(true, `Removed ${input.name} from ${input.machine}; its agent stops it.`);
}

/** One function per process handler of the catalog: a handler added there without one here fails the build. */
export const PROCESS_TOOLS: { [H in ProcessToolHandler]: (hub: ProcessToolHub, input: HubToolInput<H>, requester: Requester) => Promise<ProcessToolOutcome> } = {
  process_list: list,
  process_logs: logs,
  process_start: control("start"),
  process_stop: control("stop"),
  process_restart: control("restart"),
  process_launch_mode: launchMode,
  process_add: add,
  process_update: update,
  process_remove: remove,
};

export function isProcessTool(handler: HubToolHandler): handler is ProcessToolHandler {
  return Object.hasOwn(PROCESS_TOOLS, handler);
}

/** Runs a process tool whose input the catalog has already parsed (`prepareToolCall`). */
export function runProcessTool(handler: ProcessToolHandler, hub: ProcessToolHub, input: Record<string, unknown>, requester: Requester): Promise<ProcessToolOutcome> {
  return (PROCESS_TOOLS[handler] as (h: ProcessToolHub, i: Record<string, unknown>, r: Requester) => Promise<ProcessToolOutcome>)(hub, input, requester);
}
