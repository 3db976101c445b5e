import { EventEmitter } from "node:events";
import { setTimeout as wait } from "node:timers/promises";
import type { AgentOptions } from "../../agent/connection/agent-options.ts";
import { runAgent, type AgentDeps, type AgentExit } from "../../agent/connection/run-agent.ts";
import type { DirectiveHandler, SendToHub } from "../../agent/directives/directive-handler.ts";
import type { DirectiveMessage } from "../../protocol/node-messages.ts";
import type { Metrics } from "../../protocol/metrics.ts";
import type { FakeHub } from "./connection-fake-hub.ts";

export const TOKEN = `cxn_lab-1_${"ab".repeat(32)}`;
export const NEW_TOKEN = `cxn_lab-1_${"cd".repeat(32)}`;

export const FIXED_METRICS: Metrics = {
  cpuPercent: 12.5,
  memoryMb: 2_048,
  memoryTotalMb: 8_192,
  diskFreeMb: 10_000,
  diskTotalMb: 50_000,
  activeDirectives: 0,
  uptimeSeconds: 3_600,
};

/** Records every call the connection makes; acknowledges directives the way a real handler would. */
export class RecordingHandler implements DirectiveHandler {
  readonly runs: DirectiveMessage[] = [];
  readonly cancels: string[] = [];
  readonly runAcks: string[] = [];
  connects = 0;
  shutdowns = 0;
  active = 0;
  lastSend: SendToHub | undefined;
  /** Sent from inside shutdown(), to prove the socket is still open while directives are being stopped. */
  finalMessageOnShutdown = false;

  run(directive: DirectiveMessage, send: SendToHub): void {
    this.runs.push(directive);
    this.lastSend = send;
    send({ type: "directive_ack", directiveId: directive.id });
  }

  cancel(directiveId: string): void {
    this.cancels.push(directiveId);
  }

  connected(send: SendToHub): void {
    this.connects += 1;
    this.lastSend = send;
  }

  runCompleteAcknowledged(runId: string): void {
    this.runAcks.push(runId);
  }

  activeCount(): number {
    return this.active;
  }

  async shutdown(): Promise<void> {
    this.shutdowns += 1;
    if (this.finalMessageOnShutdown) {
      this.lastSend?.({ type: "result", directiveId: "d-final", success: false, output: "", durationMs: 1 });
    }
  }
}

export interface TestAgent {
  done: Promise<AgentExit>;
  handler: RecordingHandler;
  logs: string[];
  signals: EventEmitter;
  /** Every reconnect delay the agent asked to wait. */
  delays: number[];
}

const running = new Set<TestAgent>();

/**
 * Starts the real runAgent against the fake hub with a captured logger, a private signal emitter and reconnect
 * waits shortened to a few ms (the delays asked for are recorded).
 */
export function startAgent(hub: FakeHub, options: Partial<AgentOptions> = {}, deps: AgentDeps = {}): TestAgent {
  const handler = new RecordingHandler();
  const logs: string[] = [];
  const signals = new EventEmitter();
  const delays: number[] = [];
  const done = runAgent(
    {
      endpoint: hub.endpoint,
      token: TOKEN,
      tier: "sudo",
      reconnectMs: 100,
      heartbeatMs: 60_000,
      timeoutMs: 3_000,
      sandboxRoot: "/tmp/cortex-sandbox",
      ...options,
    },
    handler,
    {
      log: (level, message) => logs.push(`${level} ${message}`),
      signals,
      random: () => 0.5,
      sleep: (ms, signal) => {
        delays.push(ms);
        return wait(5, undefined, { signal }).catch(() => undefined);
      },
      collectMetrics: async (activeDirectives) => ({ ...FIXED_METRICS, activeDirectives }),
      ...deps,
    },
  );
  const agent = { done, handler, logs, signals, delays };
  running.add(agent);
  const forget = () => running.delete(agent);
  done.then(forget, forget);
  return agent;
}

/** Stops every agent a test left running, the way an operator would: SIGTERM, then wait for it to finish. */
export async function stopAllAgents(): Promise<void> {
  const agents = [...running];
  for (const agent of agents) agent.signals.emit("SIGTERM");
  await Promise.all(agents.map((agent) => agent.done));
}
