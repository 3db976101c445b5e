import os from "node:os";
import { join } from "node:path";
import { run as actionUser } from "./action-worker.bench.ts";
import { run as agentIdle } from "./agent-idle.bench.ts";
import { run as autonomy } from "./autonomy.bench.ts";
import { run as chat } from "./chat.bench.ts";
import { run as auth } from "./auth.bench.ts";
import { run as connect } from "./connect.bench.ts";
import { run as directive } from "./directive.bench.ts";
import { run as fanout } from "./fanout.bench.ts";
import { run as noopDirective } from "./noop-directive.bench.ts";
import { printTable, writeResults, type BenchResult } from "./lib/results.ts";
import { run as processRestart } from "./process-restart.bench.ts";
import { elapsedMs } from "./lib/stats.ts";
import { run as roost } from "./roost.bench.ts";
import { run as soak } from "./soak.bench.ts";
import { run as streaming } from "./streaming.bench.ts";
import { run as tenk } from "./tenk.bench.ts";

/**
 * `npm run bench`: every benchmark in turn (each starts its own hub, so they do not disturb one another), then one
 * table and the files the README quotes. Figures only: nothing here passes or fails on timing.
 */
const BENCHES: [string, () => Promise<BenchResult[]>][] = [
  ["connect", connect],
  ["directive round trip", directive],
  ["no-op directive", noopDirective],
  ["fan-out", fanout],
  ["streaming", streaming],
  ["action user", actionUser],
  ["agent idle", agentIdle],
  ["process restart", processRestart],
  ["roost", roost],
  ["chat", chat],
  ["auth path", auth],
  ["autonomy", autonomy],
  ["soak", soak],
  // About 5 minutes on 2 cores (most of it registering 10,000 nodes through the API); BENCH_TENK_NODES lowers it.
  ["10,000 nodes", tenk],
];

// Other work on the machine skews every figure; the load at the start is recorded next to them.
const loadAtStart = os.loadavg()[0]!;
const start = process.hrtime.bigint();
const results: BenchResult[] = [];
for (const [name, run] of BENCHES) {
  const began = process.hrtime.bigint();
  process.stderr.write(`bench: ${name}...\n`);
  results.push(...(await run()));
  process.stderr.write(`bench: ${name} done in ${(elapsedMs(began) / 1000).toFixed(1)} s\n`);
}
const totalMs = elapsedMs(start);
printTable(results);
const dir = join(import.meta.dirname, "results");
writeResults(dir, results, totalMs, loadAtStart);
console.log(`\n${(totalMs / 1000).toFixed(0)} s in all; wrote ${join(dir, "latest.json")} and latest.md`);
