import { AutonomyEventListResponse, type AutonomyEventView } from "../protocol/autonomy.ts";
import { ConversationView } from "../protocol/chat.ts";
import { ProcessListResponse } from "../protocol/processes.ts";
import { Fleet } from "../test/support/fleet.ts";
import { MockLlm } from "../test/support/mock-llm.ts";
import { waitFor } from "../test/support/wait-for.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { percentile } from "./lib/stats.ts";

/**
 * From a crash to the investigation's first tool call: a real agent supervises a real process, the bench kills it
 * (SIGKILL, an exit nobody asked for), and the clock runs until the hub starts the investigation's first tool call
 * (reading the process's log on the machine). The baseline is the floor under it: the crash recorded by the hub (the agent noticing the exit and
 * reporting it over its socket). In between: the guards, the conversation starting, and one model call to the mock
 * LLM on loopback. The hub runs on this machine, so its timestamps and the bench's share one clock.
 */
const RUNS = Number(process.env.BENCH_AUTONOMY_RUNS ?? 10);
const WARMUP = 1;
const BENCH = "autonomy";
const NODE = "bench-auto";

export async function run(): Promise<BenchResult[]> {
  const fleet = await Fleet.start();
  const mock = await MockLlm.start();
  try {
    await fleet.connectedNode(NODE, "root");
    const key = `bench-auto-${process.pid}`;
    const saved = await fleet.api.raw("PUT", fleet.api.sitePath("/llm-key"), {
      body: JSON.stringify({ provider: "anthropic", model: "claude-sonnet-5-5", key, baseUrl: mock.anthropicBaseUrl }),
      headers: { "Content-Type": "application/json" },
    });
    if (saved.status !== 200) throw new Error(`saving the site key: ${saved.status} ${saved.text}`);
    await patch(fleet, "/settings", { autonomyEnabled: true });

    const recorded: number[] = [];
    const modelCalled: number[] = [];
    const firstTool: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      // A process of its own each time: the cooldown is per machine and process.
      const name = `bench-${i}`;
      const added = await fleet.api.raw("POST", fleet.api.sitePath(`/nodes/${NODE}/processes`), {
        body: JSON.stringify({ name, command: "/bin/sleep", args: ["3600"], startupSeconds: 0.5 }),
        headers: { "Content-Type": "application/json" },
      });
      if (added.status !== 201) throw new Error(`adding ${name}: ${added.status} ${added.text}`);
      const pid = await waitFor(`${name} to run`, async () => {
        const p = (await fleet.api.call("GET", `/nodes/${NODE}/processes`, ProcessListResponse)).processes.find((x) => x.name === name);
        return p?.status?.state === "running" && p.status.startedAt !== null && Date.now() - p.status.startedAt > 800 ? p.status.pid! : undefined;
      });
      mock.script(
        key,
        { toolCalls: [{ name: "get_process_logs", input: { machine: NODE, name, lines: 5 } }] },
        { toolCalls: [{ name: "report_verdict", input: { resolved: true, summary: "Killed by the benchmark; the supervisor restarted it.", actions: [] } }] },
      );
      const before = mock.requests(key).length;
      const crashedAt = Date.now();
      process.kill(pid, "SIGKILL");
      const event = await waitFor(`the investigation of ${name} to end`, async () => {
        const e = (await fleet.api.call("GET", `/autonomy/events?node=${NODE}`, AutonomyEventListResponse)).events.find((x) => x.subject === name);
        return e && e.status !== "investigating" ? e : undefined;
      }, { timeoutMs: 60_000 });
      if (event.status !== "resolved") throw new Error(`${name}: the investigation ended ${event.status}: ${event.reason}`);
      const toolAt = await firstToolCallAt(fleet, event);
      const [firstCall] = mock.requests(key).slice(before);
      if (i >= WARMUP) {
        recorded.push(event.createdAt - crashedAt);
        modelCalled.push(firstCall!.at - crashedAt);
        firstTool.push(toolAt - crashedAt);
      }
      await fleet.api.raw("DELETE", fleet.api.sitePath(`/nodes/${NODE}/processes/${name}`));
    }

    const baseline = "the crash recorded by the hub";
    return [
      { bench: BENCH, metric: `crash → the investigation's first tool call, p50 of ${RUNS}`, unit: "ms", value: percentile(firstTool, 50), baseline: percentile(recorded, 50), baselineLabel: baseline },
      { bench: BENCH, metric: `crash → the investigation's first tool call, p95 of ${RUNS}`, unit: "ms", value: percentile(firstTool, 95), baseline: percentile(recorded, 95), baselineLabel: baseline },
      { bench: BENCH, metric: `crash → its first model call, p50 of ${RUNS}`, unit: "ms", value: percentile(modelCalled, 50), baseline: percentile(recorded, 50), baselineLabel: baseline },
    ];
  } finally {
    await mock.close();
    await fleet.close();
  }
}

async function patch(fleet: Fleet, path: string, body: unknown): Promise<void> {
  const res = await fleet.api.raw("PATCH", fleet.api.sitePath(path), { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  if (res.status !== 200) throw new Error(`PATCH ${path}: ${res.status} ${res.text}`);
}

/** When the hub started the investigation's first tool call (a process tool runs in the hub, through the SiteHub). */
async function firstToolCallAt(fleet: Fleet, event: AutonomyEventView): Promise<number> {
  const conv = await fleet.api.call("GET", `/conversations/${event.conversationId}`, ConversationView);
  const started = conv.messages.flatMap((m) => m.toolCalls).map((t) => t.startedAt).filter((at): at is number => at !== null);
  if (!started.length) throw new Error(`the investigation ${event.conversationId} ran no tool`);
  return Math.min(...started);
}

await runIfMain(import.meta.url, run);
