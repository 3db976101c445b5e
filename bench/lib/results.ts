import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";

export interface BenchResult {
  bench: string;
  metric: string;
  unit: string;
  value: number;
  /** The same measurement against the bare `ws` baseline in the same run; null where there is none. */
  baseline: number | null;
  baselineLabel: string;
}

function ratio(r: BenchResult): string {
  // A baseline at or below zero (a memory growth the baseline's collector undid) has no meaningful ratio.
  if (r.baseline === null || r.baseline <= 0 || !Number.isFinite(r.value)) return "—";
  const x = r.value / r.baseline;
  return `${x.toFixed(x < 1 ? 2 : 1)}×`;
}

function fmt(value: number | null, unit: string): string {
  if (value === null || !Number.isFinite(value)) return "—";
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`;
}

export function printTable(results: readonly BenchResult[]): void {
  const rows = results.map((r) => [r.bench, r.metric, fmt(r.value, r.unit), fmt(r.baseline, r.unit), ratio(r)]);
  const head = ["bench", "metric", "cortex hub", "baseline", "ratio"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

function machine(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`;
}

/** Writes `latest.json` and a markdown table ready to paste into the README. */
export function writeResults(dir: string, results: readonly BenchResult[], totalMs: number, loadAtStart: number): void {
  mkdirSync(dir, { recursive: true });
  const at = new Date().toISOString();
  const load = loadAtStart.toFixed(2);
  writeFileSync(join(dir, "latest.json"), `${JSON.stringify({ at, machine: machine(), loadAverageAtStart: loadAtStart, totalMs: Math.round(totalMs), results }, null, 2)}\n`);
  const md = [
    `Measured ${at.slice(0, 10)} on ${machine()} (1-minute load average ${load} at the start), hub under \`wrangler dev\` (local workerd). Baselines are bare \`ws\` servers and clients in the same run; ratio = hub ÷ baseline.`,
    "",
    "| bench | metric | cortex hub | baseline | ratio |",
    "| --- | --- | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.bench} | ${r.metric} | ${fmt(r.value, r.unit)} | ${fmt(r.baseline, r.unit)}${r.baseline === null ? "" : ` (${r.baselineLabel})`} | ${ratio(r)} |`),
    "",
  ].join("\n");
  writeFileSync(join(dir, "latest.md"), md);
}
