import type { ActionParams } from "../../protocol/directives.ts";
import { toMb, writeJson } from "../host/compact-output.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";

/** How long the event loop takes to come back to this action: a busy or blocked agent answers late to everything. */
function eventLoopDelayMs(): Promise<number> {
  const start = performance.now();
  return new Promise((resolve) => setImmediate(() => resolve(Math.round((performance.now() - start) * 10) / 10)));
}

export async function agentHealth(_params: ActionParams<"agent.health">, ctx: ActionContext): Promise<ActionOutcome> {
  const status = ctx.host.agentStatus();
  const memory = process.memoryUsage();
  writeJson(ctx.out, {
    version: status.version,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    pid: status.pid,
    startedAt: new Date(status.startedAt).toISOString(),
    uptimeSeconds: Math.round((Date.now() - status.startedAt) / 1000),
    tier: status.tier,
    sandboxRoot: status.sandboxRoot,
    stateDir: status.stateDir,
    memoryMb: { rss: toMb(memory.rss), heapUsed: toMb(memory.heapUsed) },
    eventLoopDelayMs: await eventLoopDelayMs(),
    // This directive is one of them.
    directivesInFlight: status.directivesInFlight,
    longRuns: status.runs,
    connectionsSinceStart: status.connections,
    lastConnectedAt: status.lastConnectedAt === null ? null : new Date(status.lastConnectedAt).toISOString(),
    search: status.ripgrep ? "ripgrep" : "built-in",
  });
  return {};
}
