import { MAX_MACHINE_OUTPUT_BYTES } from "../../protocol/limits.ts";
import type { OutputSink } from "../actions/action-context.ts";
import { utf8Head } from "../directives/utf8.ts";

/**
 * How machine actions answer: compact JSON a model reads well, lists as `{columns, rows}` tables rather than one
 * object per row. Each action bounds its own lists; past MAX_MACHINE_OUTPUT_BYTES the text is cut anyway, with a
 * note that says so and how to ask for less.
 */

export interface Table {
  columns: readonly string[];
  rows: unknown[][];
}

export function table(columns: readonly string[], rows: unknown[][]): Table {
  return { columns, rows };
}

export function capText(text: string, maxBytes = MAX_MACHINE_OUTPUT_BYTES): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= maxBytes) return text;
  return `${utf8Head(text, maxBytes)}\n[cut: showing ${maxBytes} of ${bytes} bytes; ask for less (a filter, a lower limit, fewer lines)]`;
}

export function writeJson(out: OutputSink, value: unknown): void {
  out.write(capText(JSON.stringify(value)));
}

/** A line cut to a readable length, marked when cut. */
export function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…[+${text.length - maxChars} chars]`;
}

export const MB = 1024 * 1024;

export function toMb(bytes: number): number {
  return Math.round((bytes / MB) * 10) / 10;
}
