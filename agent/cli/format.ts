import Table from "cli-table3";
import { revealControls } from "../../protocol/hidden-characters.ts";

/** "3s ago", "5m ago", "2h ago", "4d ago"; "never" for a missing time. */
export function ago(at: number | null, now = Date.now()): string {
  if (at === null) return "never";
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** An ISO time followed by how long ago it was, or "—". */
export function when(at: number | null): string {
  return at === null ? "—" : `${new Date(at).toISOString()} (${ago(at)})`;
}

export function megabytes(mb: number): string {
  if (mb < 1024) return `${Math.round(mb)}M`;
  if (mb < 1024 * 1024) return `${(mb / 1024).toFixed(1)}G`;
  return `${(mb / 1024 / 1024).toFixed(1)}T`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${Math.floor((ms % 60_000) / 1000)}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}

/** Colourless, so output is the same in a terminal, a pipe and a test. */
/**
 * Rows of cells. Cells hold what machines, alerts and models wrote (a process's reason, an alert's summary), so the
 * characters a terminal would act on are shown instead: an escape sequence could otherwise rewrite the screen or the
 * clipboard of whoever runs the command.
 */
export function table(head: string[], rows: string[][]): string {
  const t = new Table({ head, style: { head: [], border: [], compact: true } });
  t.push(...rows.map((row) => row.map(revealControls)));
  return `${t.toString()}\n`;
}

/** Aligned `key  value` lines; values are shown as `table` shows cells. */
export function facts(rows: [string, string][]): string {
  const width = Math.max(...rows.map(([key]) => key.length));
  return rows.map(([key, value]) => `${`${key}:`.padEnd(width + 2)}${revealControls(value)}\n`).join("");
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** The text with a final newline, so whatever is printed next starts on a line of its own. */
export function asBlock(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}
