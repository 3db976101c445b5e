import type { DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import type { MachineResult } from "../../protocol/chat.ts";
import { redactText } from "../../protocol/redaction.ts";

/**
 * What a tool's output becomes before anyone sees it: redacted first (so a cut never leaves half a secret), then cut
 * to a size, with a note saying how much was left out. The model gets one compact text; the transcript gets results
 * per machine, with machines that answered the same grouped into one entry.
 */

/** Characters of tool output the model gets per call, in all. */
export const MODEL_OUTPUT_CHARS = 16_000;
/** Characters the transcript keeps of each machine's (or group's) output. */
export const UI_OUTPUT_CHARS = 8_000;
/** Machine names listed per group in the model's text before "and N more". */
const NAMES_SHOWN = 20;

export function cut(text: string, limit: number): { text: string; truncated: boolean } {
  if (text.length <= limit) return { text, truncated: false };
  return { text: `${text.slice(0, limit)}\n[… cut: ${text.length - limit} more characters not shown; ask for less output (a filter, fewer lines)]`, truncated: true };
}

/** A directive's output as it may be shown: redacted, then cut. */
export function safeOutput(output: string | null, limit: number): { text: string; truncated: boolean } {
  return cut(redactText(output ?? ""), limit);
}

/**
 * Machines write their output and errors, so any line of it could be made to look like the hub's line that starts a
 * machine's result. The hub's lines that start (or count) results begin with a token drawn for that one text, which no
 * machine's text contains (one that does makes us draw again); the system prompt says only lines beginning with that
 * call's token are such lines.
 */
function boundaryFor(machineTexts: string[]): string {
  for (;;) {
    const token = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");
    if (!machineTexts.some((t) => t.includes(token))) return `[#${token}]`;
  }
}

function outcomeLine(d: DirectiveView): string {
  if (d.status === "done") return d.exitCode === null || d.exitCode === 0 ? "ok" : `exit code ${d.exitCode}`;
  // The error is the machine's text: quoted, so it stays on the hub's line and reads as a quote, not as the hub's words.
  const why = d.error ? `: ${JSON.stringify(redactText(d.error))}` : "";
  const exit = d.exitCode !== null ? ` (exit code ${d.exitCode})` : "";
  return `${d.errorCode === "offline" ? "offline" : d.status}${exit}${why}`;
}

/** The text a model gets for one directive's outcome. */
export function singleForModel(d: DirectiveView): string {
  const output = safeOutput(d.output, MODEL_OUTPUT_CHARS);
  const outcome = outcomeLine(d);
  const head = `${boundaryFor([output.text, outcome])} machine ${d.nodeId}: ${outcome}${d.truncated ? "; the machine's output was cut at the hub's limit" : ""}`;
  return output.text ? `${head}\n${output.text}` : head;
}

/** Groups directives whose outcome and (redacted) output are identical. */
function groups(directives: DirectiveView[]): { key: string; members: DirectiveView[]; output: string }[] {
  const byKey = new Map<string, { key: string; members: DirectiveView[]; output: string }>();
  for (const d of [...directives].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    const output = redactText(d.output ?? "");
    const key = JSON.stringify([d.status, d.exitCode, d.errorCode, d.error ? redactText(d.error) : null, output]);
    const group = byKey.get(key);
    if (group) group.members.push(d);
    else byKey.set(key, { key, members: [d], output });
  }
  // Largest groups first: the common answer leads, the odd ones out follow.
  return [...byKey.values()].sort((a, b) => b.members.length - a.members.length);
}

function names(members: DirectiveView[]): string {
  const ids = members.map((d) => d.nodeId);
  const shown = ids.slice(0, NAMES_SHOWN).join(", ");
  return ids.length > NAMES_SHOWN ? `${shown} and ${ids.length - NAMES_SHOWN} more` : shown;
}

/** Per-machine results for the transcript, identical ones grouped. */
export function machineResults(directives: DirectiveView[]): MachineResult[] {
  return groups(directives).map((g) => {
    const first = g.members[0]!;
    const output = cut(g.output, UI_OUTPUT_CHARS);
    return {
      nodeIds: g.members.map((d) => d.nodeId),
      status: first.errorCode === "offline" ? "offline" : first.status,
      exitCode: first.exitCode,
      output: output.text,
      truncated: output.truncated || g.members.some((d) => d.truncated),
      error: first.error ? redactText(first.error) : null,
    };
  });
}

/**
 * One compact text for a fan-out: the tally, then each group of identical answers once with the machines that gave
 * it, so 500 machines answering the same cost one entry. Output is shared out between the groups within the limit;
 * groups past it are counted, not shown.
 */
export function fanOutForModel(directives: DirectiveView[], aggregate: FanOutAggregate | null): string {
  const all = groups(directives);
  const outcomes = all.map((g) => outcomeLine(g.members[0]!));
  const boundary = boundaryFor([...all.map((g) => g.output), ...outcomes]);
  const tally = aggregate
    ? `Ran on ${aggregate.total} machine(s): ${aggregate.succeeded} succeeded, ${aggregate.failed} failed, ${aggregate.offline} offline, ${aggregate.refused} refused, ${aggregate.timedOut} timed out, ${aggregate.cancelled} cancelled, ${aggregate.lost} lost.`
    : `Ran on ${directives.length} machine(s).`;
  const lines = [`${boundary} ${tally} ${all.length} distinct result(s):`];
  let budget = MODEL_OUTPUT_CHARS;
  const perGroup = Math.max(400, Math.floor(MODEL_OUTPUT_CHARS / Math.max(1, all.length)));
  let shown = 0;
  for (const [i, g] of all.entries()) {
    if (budget <= 0) break;
    const head = `\n${boundary} ${g.members.length} machine(s): ${names(g.members)} — ${outcomes[i]}`;
    const body = g.output ? cut(g.output, Math.min(perGroup, budget)).text : "";
    lines.push(body ? `${head}\n${body}` : head);
    budget -= head.length + body.length;
    shown += 1;
  }
  if (shown < all.length) {
    const rest = all.slice(shown);
    lines.push(`\n${boundary} … ${rest.length} more distinct result(s) from ${rest.reduce((n, g) => n + g.members.length, 0)} machine(s) not shown`);
  }
  return lines.join("\n");
}
