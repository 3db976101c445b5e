import { execFileSync } from "node:child_process";
import { Fleet } from "../test/support/fleet.ts";
import { startBaseline } from "./lib/baseline.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { elapsedMs, percentile } from "./lib/stats.ts";
import { openSocket, roundTrip } from "./lib/ws-client.ts";

/**
 * `echo` through the whole path: HTTP API → Worker → SiteHub → WebSocket → a real agent (`cortex node connect`)
 * spawning bash → result back the same way. Next to a bare `ws` round trip between this process and another.
 */
const RUNS = Number(process.env.BENCH_DIRECTIVE_RUNS ?? 100);
const WARMUP = 5;
const BENCH = "directive round trip";

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const baseline = await startBaseline();
  try {
    await fleet.connectedNode("bench-agent", "root");
    // The default login shell and the plain one a directive may ask for (`login: false`), interleaved so that load
    // from other work on the machine falls on both alike.
    const loginSamples: number[] = [];
    const plainSamples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      for (const login of [true, false]) {
        const start = process.hrtime.bigint();
        const view = await fleet.api.runDirective("bench-agent", { action: "bash", params: { command: `echo ${i}`, login } });
        const ms = elapsedMs(start);
        if (view.status !== "done" || view.output !== `${i}\n`) throw new Error(`echo ${i} came back as ${view.status}: ${view.output}`);
        if (i >= WARMUP) (login ? loginSamples : plainSamples).push(ms);
      }
    }

    const ws = await openSocket(baseline.wsUrl);
    const wsSamples: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const ms = await roundTrip(ws, `echo:${i}`);
      if (i >= WARMUP) wsSamples.push(ms);
    }
    ws.close();

    // How much of the round trip is the agent's own work: the shell it starts for every bash directive, run here
    // with the agent's environment (a bare PATH and a HOME without profile files), login and plain.
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: fleet.dirs.make("cortex-bench-home-") };
    const spawnSamples = { login: [] as number[], plain: [] as number[] };
    for (let i = 0; i < WARMUP + RUNS; i++) {
      for (const login of [true, false]) {
        const start = process.hrtime.bigint();
        execFileSync("/bin/bash", login ? ["-l", "-c", `echo ${i}`] : ["-c", `echo ${i}`], { env });
        if (i >= WARMUP) spawnSamples[login ? "login" : "plain"].push(elapsedMs(start));
      }
    }

    const label = "bare ws echo, 2 processes";
    return [
      { bench: BENCH, metric: `echo via API → agent (login bash), p50 of ${RUNS}`, unit: "ms", value: percentile(loginSamples, 50), baseline: percentile(wsSamples, 50), baselineLabel: label },
      { bench: BENCH, metric: `echo via API → agent (login bash), p99 of ${RUNS}`, unit: "ms", value: percentile(loginSamples, 99), baseline: percentile(wsSamples, 99), baselineLabel: label },
      { bench: BENCH, metric: `echo via API → agent (plain bash, login: false), p50 of ${RUNS}`, unit: "ms", value: percentile(plainSamples, 50), baseline: percentile(wsSamples, 50), baselineLabel: label },
      { bench: BENCH, metric: `echo via API → agent (plain bash, login: false), p99 of ${RUNS}`, unit: "ms", value: percentile(plainSamples, 99), baseline: percentile(wsSamples, 99), baselineLabel: label },
      { bench: BENCH, metric: "of which: starting `bash -l -c echo` locally, p50", unit: "ms", value: percentile(spawnSamples.login, 50), baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "of which: starting `bash -c echo` locally, p50", unit: "ms", value: percentile(spawnSamples.plain, 50), baseline: null, baselineLabel: "" },
    ];
  } finally {
    await baseline.stop();
    await fleet.close();
  }
}

await runIfMain(import.meta.url, run);
