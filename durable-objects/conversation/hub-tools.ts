import type { ActivityEntry, ActivityLevel, ActivityPage, ActivityQuery, NodeView } from "../../protocol/api.ts";
import { redactText } from "../../protocol/redaction.ts";
import { MACHINES_LISTED, type HubToolHandler, type HubToolInput } from "../../protocol/tools/hub-tools.ts";
import type { MachineFilter } from "../site-hub/node-registry.ts";
import type { ProcessToolHandler } from "../site-hub/process-tools.ts";
import { cut, MODEL_OUTPUT_CHARS } from "./tool-output.ts";

/** What the hub-side tools read: the site's own records, through its SiteHub. */
export interface SiteRecords {
  activity(query: ActivityQuery): Promise<ActivityPage>;
  /** A page of the machines a filter matches, by name, and how many match. */
  machines(filter: MachineFilter, limit: number): Promise<{ total: number; nodes: NodeView[] }>;
}

const SEVERITY: Record<ActivityLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
/** Entries read per page when filtering by level, and pages at most. */
const LOG_PAGE = 200;
const LOG_PAGES = 5;

function when(at: number): string {
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function mb(value: number): string {
  return value >= 1024 ? `${(value / 1024).toFixed(1)} GB` : `${Math.round(value)} MB`;
}

/** `text` on one line: its line breaks as `\uXXXX` escapes. */
const oneLine = (text: string) => text.replace(/[\n\r\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * What a machine's agent wrote (its os, version, GPU names, errors), as a JSON string: it may hold line breaks, and a
 * line of its own in this list would read as another machine's.
 */
const quoted = (text: string) => oneLine(JSON.stringify(text));

async function siteLogs(records: SiteRecords, input: HubToolInput<"site_logs">, now: number): Promise<string> {
  const since = input.sinceMinutes === undefined ? undefined : now - input.sinceMinutes * 60_000;
  const minimum = input.level === undefined ? 0 : SEVERITY[input.level];
  const found: ActivityEntry[] = [];
  let before: number | undefined;
  // The log is filtered by level here, so a rare level may take a few pages to fill `limit`.
  for (let page = 0; page < LOG_PAGES && found.length < input.limit; page++) {
    const result = await records.activity({
      ...(input.machine ? { node: input.machine } : {}),
      ...(input.kind ? { kind: input.kind } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(before !== undefined ? { before } : {}),
      limit: LOG_PAGE,
    });
    found.push(...result.entries.filter((e) => SEVERITY[e.level] >= minimum));
    if (result.nextBefore === null) break;
    before = result.nextBefore;
  }
  const entries = found.slice(0, input.limit);
  if (!entries.length) return "No activity log entries match.";
  // An entry's message may quote what an agent wrote: its line breaks are escaped, so it cannot pose as more entries.
  const lines = entries.map((e) => `${when(e.at)} [${e.level}] ${e.kind}${e.nodeId ? ` ${e.nodeId}` : ""}${e.actor ? ` (${e.actor})` : ""}: ${oneLine(e.message)}`);
  return cut(redactText(`${entries.length} entr${entries.length === 1 ? "y" : "ies"}, newest first:\n${lines.join("\n")}`), MODEL_OUTPUT_CHARS).text;
}


function machineLine(n: NodeView): string {
  const facts = [`status ${n.status}`, `tier ${n.runningTier ?? n.tier}`];
  if (n.group) facts.push(`group ${n.group}`);
  if (n.os) facts.push(`os ${quoted(`${n.os}${n.arch ? `/${n.arch}` : ""}`)}`);
  if (n.version) facts.push(`agent ${quoted(n.version)}`);
  if (n.lastHeartbeatAt) facts.push(`last heartbeat ${when(n.lastHeartbeatAt)}`);
  if (!n.aiToolsAllowed) facts.push("AI tools off");
  const m = n.metrics;
  if (m) {
    facts.push(`cpu ${m.cpuPercent.toFixed(0)}%${m.cpuCount ? ` of ${m.cpuCount} cores` : ""}`);
    facts.push(`memory ${mb(m.memoryMb)} / ${mb(m.memoryTotalMb)}`);
    facts.push(`disk free ${mb(m.diskFreeMb)} / ${mb(m.diskTotalMb)}`);
    if (m.loadAverage) facts.push(`load ${m.loadAverage.map((l) => l.toFixed(2)).join(" ")}`);
    for (const g of m.gpus ?? []) facts.push(`gpu ${quoted(g.name)} ${g.utilizationPercent}% (${mb(g.memoryUsedMb)} / ${mb(g.memoryTotalMb)})`);
  }
  if (n.lastError) facts.push(`last error: ${quoted(n.lastError)}`);
  return `${n.id} "${n.name}": ${facts.join(", ")}`;
}

async function listMachines(records: SiteRecords, input: HubToolInput<"list_machines">): Promise<string> {
  const { total, nodes } = await records.machines(input, MACHINES_LISTED);
  if (!total) return "No machines match.";
  const head = total > nodes.length ? `${total} machine(s); the first ${nodes.length} by name (ask for a status or a group to see others):` : `${total} machine(s):`;
  return cut(redactText(`${head}\n${nodes.map(machineLine).join("\n")}`), MODEL_OUTPUT_CHARS).text;
}

/** The hub handlers answered from the site's records; the process tools act through the SiteHub (`process-tools.ts`). */
export type RecordToolHandler = Exclude<HubToolHandler, ProcessToolHandler>;

/** One function per record handler of the catalog: a handler added there without one here fails the build. */
export const HUB_TOOLS: { [H in RecordToolHandler]: (records: SiteRecords, input: HubToolInput<H>, now: number) => Promise<string> } = {
  site_logs: siteLogs,
  list_machines: (records, input) => listMachines(records, input),
};

export function runHubTool(handler: RecordToolHandler, records: SiteRecords, input: Record<string, unknown>, now: number): Promise<string> {
  return (HUB_TOOLS[handler] as (r: SiteRecords, i: Record<string, unknown>, n: number) => Promise<string>)(records, input, now);
}
