import os from "node:os";
import { setTimeout as wait } from "node:timers/promises";
import type { HeartbeatMessage } from "../../protocol/node-messages.ts";
import { nodeIdOfToken } from "../../protocol/node-token.ts";
import type { DirectiveHandler, SendToHub } from "../directives/directive-handler.ts";
import type { ProcessSupervisor } from "../supervisor/process-supervisor.ts";
import { collectMetrics, type CollectMetrics } from "../metrics/collect-metrics.ts";
import type { AgentOptions } from "./agent-options.ts";
import { Backoff } from "./backoff.ts";
import { EXIT_REFUSED } from "./exit-codes.ts";
import { connectUrl } from "./endpoint.ts";
import { HubSession, type SessionEnd } from "./hub-connection.ts";
import { errorText, guardedLogger, seconds, stderrLogger, type Logger } from "./logger.ts";
import type { LiveSettings } from "./register-message.ts";

/** Where stop signals come from; `process` unless a test supplies its own emitter. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface AgentDeps {
  log?: Logger;
  now?: () => number;
  /** Jitter source for the reconnect backoff. */
  random?: () => number;
  /** Waits out a reconnect delay; must return early once `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  collectMetrics?: CollectMetrics;
  signals?: SignalSource;
  /** Supervises the machine's processes while the agent runs, connected or not; closed (not stopped) at exit. */
  supervisor?: ProcessSupervisor;
  /** The settings the hub may change (token, name, heartbeat), when the caller needs to see the changes too. */
  settings?: LiveSettings;
}

export interface AgentExit {
  code: number;
  reason: string;
}

export { EXIT_REFUSED };

const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/**
 * Connects to the hub and stays connected, reconnecting with backoff, until the hub definitely refuses this node
 * or a stop signal arrives. Rejects at once on options that could never connect (bad endpoint, no node id).
 */
export async function runAgent(options: AgentOptions, handler: DirectiveHandler, deps: AgentDeps = {}): Promise<AgentExit> {
  const url = connectUrl(options.endpoint);
  const agentId = options.id ?? nodeIdOfToken(options.token);
  if (agentId === null) throw new Error("the token does not carry a node id (cxn_<node>_<secret>); pass --id");
  const settings = deps.settings ?? initialSettings(options, agentId);
  const log = guardedLogger(deps.log ?? stderrLogger(), () => [options.token, settings.token]);
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms, signal) => wait(ms, undefined, { signal }).catch(() => undefined));
  const collect = deps.collectMetrics ?? collectMetrics;
  const backoff = new Backoff({ baseMs: options.reconnectMs, random: deps.random });
  const stop = watchSignals(deps.signals ?? process, log);

  let session: HubSession | undefined;
  const send: SendToHub = (message) => session?.send(message) ?? false;
  const supervisor = deps.supervisor;
  const supervision = (): Pick<HeartbeatMessage, "supervision"> => {
    if (!supervisor || supervisor.configVersion === null) return {};
    try {
      return { supervision: supervisor.status() };
    } catch (error) {
      log("warn", `process status unavailable: ${errorText(error)}`);
      return {};
    }
  };
  const heartbeat = async (): Promise<HeartbeatMessage> => {
    try {
      return { type: "heartbeat", agentId, metrics: await collect(handler.activeCount()), ...supervision() };
    } catch (error) {
      log("warn", `metrics unavailable: ${errorText(error)}`);
      return { type: "heartbeat", agentId, ...supervision() };
    }
  };

  const shutDown = async (): Promise<AgentExit> => {
    const reason = `stopped by ${String(stop.signal.reason)}`;
    await handler.shutdown();
    supervisor?.close();
    await session?.stop(reason);
    log("info", reason);
    return { code: 0, reason };
  };

  log("info", `connecting to ${url} as ${agentId}`);
  try {
    for (;;) {
      session = new HubSession({
        url,
        agentId,
        tier: options.tier,
        sandboxRoot: options.sandboxRoot,
        connectTimeoutMs: options.timeoutMs,
        settings,
        handler,
        send,
        heartbeat,
        supervisor,
        log,
        now,
      });
      const end = await untilAborted(session.ended, stop.signal);
      if (end === undefined) return await shutDown();
      if (end.exit) {
        log("error", end.reason);
        await handler.shutdown();
        supervisor?.close();
        return { code: EXIT_REFUSED, reason: end.reason };
      }
      backoff.connectionEnded(end.registeredMs);
      const delay = backoff.nextDelay();
      log("warn", `${end.reason}; reconnecting in ${seconds(delay)}`);
      await sleep(delay, stop.signal);
      if (stop.signal.aborted) return await shutDown();
    }
  } finally {
    stop.dispose();
  }
}

/** The settings an agent starts with; the hub may change them later (rekey, config_update). */
export function initialSettings(options: AgentOptions, agentId: string): LiveSettings {
  return {
    token: options.token,
    name: options.name ?? (os.hostname().trim().slice(0, 100) || agentId),
    group: options.group,
    heartbeatMs: options.heartbeatMs,
  };
}

/**
 * The first stop signal starts a graceful shutdown and hands the signals back to Node, so a second Ctrl-C kills an
 * agent stuck shutting down instead of being swallowed.
 */
function watchSignals(source: SignalSource, log: Logger): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listeners = STOP_SIGNALS.map((name) => {
    const listener = () => {
      dispose();
      log("info", `${name} received; shutting down`);
      controller.abort(name);
    };
    return [name, listener] as const;
  });
  const dispose = () => {
    for (const [name, listener] of listeners) source.off(name, listener);
  };
  for (const [name, listener] of listeners) source.on(name, listener);
  return { signal: controller.signal, dispose };
}

function untilAborted(ended: Promise<SessionEnd>, signal: AbortSignal): Promise<SessionEnd | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    void ended.then((end) => {
      signal.removeEventListener("abort", onAbort);
      resolve(end);
    });
  });
}
