import WebSocket from "ws";
import { MAX_CHUNK_BYTES, METRICS_EVERY_TICKS, PING_FRAME, PONG_FRAME } from "../../protocol/limits.ts";
import type { Metrics } from "../../protocol/metrics.ts";
import type { DirectiveMessage, NodeToHubMessage } from "../../protocol/node-messages.ts";
import { HUB_SOCKET_OPTIONS } from "../../agent/connection/socket-options.ts";
import { WorkOutbox } from "../../agent/connection/work-outbox.ts";

/** The command a simulated node answers by streaming `streamBytes` of output instead of a one-line result. */
export const STREAM_COMMAND = "bench-stream";

const METRICS: Metrics = {
  cpuPercent: 12.5,
  memoryMb: 2048,
  memoryTotalMb: 16384,
  diskFreeMb: 50_000,
  diskTotalMb: 100_000,
  activeDirectives: 0,
  uptimeSeconds: 3600,
  loadAverage: [0.5, 0.4, 0.3],
  cpuCount: 8,
};

/** Round trips measured while `recording` is on; the ticks before and after keep the nodes alive unmeasured. */
export class RoundTrips {
  recording = false;
  readonly heartbeats: number[] = [];
  readonly pings: number[] = [];
}

export interface SimNodeOptions {
  url: string;
  token: string;
  nodeId: string;
  heartbeatMs: number;
  /** Where the liveness ticks record their round trips. */
  trips: RoundTrips;
  streamBytes?: number;
  /** Every how many ticks a full heartbeat with metrics goes instead of a bare ping; the agent's own rhythm by default. */
  metricsEveryTicks?: number;
}

/**
 * A node that speaks the wire protocol without being an agent: register, "ping" frames, heartbeats with metrics,
 * and a result (or a stream of chunks) for every directive. Many of them fit in one process, which is the point.
 */
export class SimNode {
  private readonly pendingAcks: ((at: bigint) => void)[] = [];
  private readonly pendingPongs: ((at: bigint) => void)[] = [];
  directivesAnswered = 0;
  /** The close code when the socket ended, whoever closed it; null while open. */
  closeCode: number | null = null;
  private ticker: NodeJS.Timeout | undefined;
  private ticks = 0;
  /** Like the agent, directive messages go in `batch` frames when the hub takes them. */
  private readonly outbox: WorkOutbox | null;

  private constructor(
    private readonly ws: WebSocket,
    private readonly options: SimNodeOptions,
    batches: boolean,
  ) {
    this.outbox = batches ? new WorkOutbox((frame) => (this.ws.send(frame), true)) : null;
    ws.on("message", (data, isBinary) => this.receive(isBinary ? "" : data.toString()));
    // A socket the far end drops mid-benchmark shows up as missing answers, not as a crash of the whole run.
    ws.on("error", () => undefined);
    ws.on("close", (code) => {
      clearInterval(this.ticker);
      this.closeCode = code;
    });
    // Like the agent: a bare ping each interval, a heartbeat with metrics every second one; started at a random
    // phase so a thousand nodes do not tick in lockstep.
    const start = setTimeout(() => {
      this.tick();
      this.ticker = setInterval(() => this.tick(), options.heartbeatMs);
    }, Math.random() * options.heartbeatMs);
    ws.on("close", () => clearTimeout(start));
  }

  private tick(): void {
    const { trips } = this.options;
    const recording = trips.recording;
    this.ticks += 1;
    if (this.ticks % (this.options.metricsEveryTicks ?? METRICS_EVERY_TICKS) === 0) void this.heartbeat().then((ms) => recording && trips.heartbeats.push(ms));
    else void this.ping().then((ms) => recording && trips.pings.push(ms));
  }

  /** Opens the socket and resolves once the other end answers `registered`. */
  static connect(options: SimNodeOptions, timeoutMs = 60_000): Promise<SimNode> {
    return new Promise((resolve, reject) => {
      // A zero mask: `ws` then skips XOR-ing every sent byte in JavaScript, which cost this process more CPU per
      // streamed MiB than the hub. The raw `ws` baseline's data goes server → client, unmasked, too.
      const ws = new WebSocket(options.url, { ...HUB_SOCKET_OPTIONS, headers: { Authorization: `Bearer ${options.token}` }, generateMask: (mask) => void mask.fill(0) });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`${options.nodeId}: not registered within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      ws.once("error", onError);
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`${options.nodeId}: upgrade refused with ${res.statusCode}`));
      });
      ws.once("open", () => {
        ws.send(
          JSON.stringify({
            type: "register",
            agentId: options.nodeId,
            name: options.nodeId,
            capabilities: ["bash", "read"],
            version: "0.0.0-bench",
            tier: "root",
            heartbeatMs: options.heartbeatMs,
          } satisfies NodeToHubMessage),
        );
      });
      const onFirst = (data: WebSocket.RawData) => {
        const message = JSON.parse(data.toString()) as { type: string; batches?: boolean };
        clearTimeout(timer);
        if (message.type !== "registered") return reject(new Error(`${options.nodeId}: answered ${data.toString()}`));
        ws.off("error", onError);
        resolve(new SimNode(ws, options, message.batches === true));
      };
      ws.once("message", onFirst);
    });
  }

  /** Sends a heartbeat with metrics; resolves with the round trip in ms when its ack arrives. */
  heartbeat(): Promise<number> {
    const sent = process.hrtime.bigint();
    return new Promise((resolve) => {
      this.pendingAcks.push((at) => resolve(Number(at - sent) / 1e6));
      this.send({ type: "heartbeat", agentId: this.options.nodeId, metrics: METRICS });
    });
  }

  /** Sends a bare "ping"; resolves with the round trip in ms when "pong" arrives. */
  ping(): Promise<number> {
    const sent = process.hrtime.bigint();
    return new Promise((resolve) => {
      this.pendingPongs.push((at) => resolve(Number(at - sent) / 1e6));
      this.ws.send(PING_FRAME);
    });
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    clearInterval(this.ticker);
    this.ws.terminate();
  }

  private send(message: NodeToHubMessage): void {
    this.ws.send(JSON.stringify(message));
  }

  private receive(text: string): void {
    const at = process.hrtime.bigint();
    if (text === PONG_FRAME) return this.pendingPongs.shift()?.(at);
    const message = JSON.parse(text) as { type: string };
    if (message.type === "heartbeat_ack") return this.pendingAcks.shift()?.(at);
    if (message.type === "directive") this.answer(message as DirectiveMessage);
  }

  private answer(directive: DirectiveMessage): void {
    const send = (message: NodeToHubMessage) => (this.outbox ? this.outbox.send(message) : this.send(message));
    send({ type: "directive_ack", directiveId: directive.id });
    let chunks = 0;
    if (directive.params.command === STREAM_COMMAND) {
      const piece = "x".repeat(MAX_CHUNK_BYTES - 1) + "\n";
      for (let sent = 0; sent < (this.options.streamBytes ?? 0); sent += piece.length) {
        send({ type: "stream_chunk", directiveId: directive.id, seq: chunks++, chunk: piece, stream: "stdout" });
      }
    }
    this.directivesAnswered += 1;
    send({ type: "result", directiveId: directive.id, success: true, output: chunks ? "" : "ok\n", exitCode: 0, durationMs: 0, chunks });
  }
}
