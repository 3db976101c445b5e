import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import type { NodeToHubMessage } from "../../protocol/node-messages.ts";
import { PING_FRAME, PONG_FRAME } from "../../protocol/limits.ts";

/** What the fake hub does with one connection attempt. */
export type Plan =
  /** Registers the agent; `batches` says the hub takes `batch` frames, as the real hub does. */
  | { kind: "accept"; batches?: boolean }
  /** Registers the agent, then never sends anything again (not even pong). */
  | { kind: "silent" }
  /** Never answers the register. */
  | { kind: "mute" }
  /** Registers the agent, then cuts the socket without a close frame. */
  | { kind: "drop" }
  /** Closes with `code` right after the register arrives. */
  | { kind: "close"; code: number }
  /** Answers the upgrade with a plain HTTP response. */
  | { kind: "refuse"; status: number; body?: string };

export type Frame = string | NodeToHubMessage;

/** A queue that hands each item to the first waiter asking for it, or keeps it until someone asks. */
class Inbox<T> {
  private readonly items: T[] = [];
  private readonly waiters: { match: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  push(item: T): void {
    const index = this.waiters.findIndex((w) => w.match(item));
    if (index >= 0) this.waiters.splice(index, 1)[0]!.resolve(item);
    else this.items.push(item);
  }

  next(match: (item: T) => boolean = () => true, what = "item", timeoutMs = 3_000): Promise<T> {
    const index = this.items.findIndex(match);
    if (index >= 0) return Promise.resolve(this.items.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (item) => {
          clearTimeout(timer);
          resolve(item);
        },
      });
    });
  }
}

export class HubConnection {
  /** Every frame the agent sent, in order (kept in full; `inbox` is consumed by waits). */
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly inbox = new Inbox<Frame>();

  constructor(
    readonly ws: WebSocket,
    readonly request: IncomingMessage,
  ) {
    ws.on("message", (data) => {
      const text = data.toString();
      const frame: Frame = text === PING_FRAME ? text : (JSON.parse(text) as NodeToHubMessage);
      this.frames.push(frame);
      this.inbox.push(frame);
    });
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  message<T extends NodeToHubMessage["type"]>(type: T): Promise<Extract<NodeToHubMessage, { type: T }>> {
    return this.inbox.next((f) => typeof f !== "string" && f.type === type, `a ${type} message`) as Promise<
      Extract<NodeToHubMessage, { type: T }>
    >;
  }

  ping(): Promise<Frame> {
    return this.inbox.next((f) => f === PING_FRAME, "a ping");
  }

  sendJson(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }
}

/** A stand-in hub on 127.0.0.1 speaking the node protocol, driven by a queue of plans, one per attempt. */
export class FakeHub {
  /** Time of every upgrade attempt, refused or not. */
  readonly attempts: number[] = [];
  private readonly plans: Plan[] = [];
  private readonly connections = new Inbox<HubConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly wss = new WebSocketServer({ noServer: true });

  private constructor(private readonly server: Server) {
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    server.on("upgrade", (request, socket: Socket, head) => this.upgrade(request, socket, head));
  }

  static async start(): Promise<FakeHub> {
    const server = createServer((_req, res) => res.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new FakeHub(server);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  plan(...plans: Plan[]): void {
    this.plans.push(...plans);
  }

  nextConnection(): Promise<HubConnection> {
    return this.connections.next(undefined, "a connection");
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private upgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    this.attempts.push(Date.now());
    const plan = this.plans.shift() ?? { kind: "accept" };
    if (plan.kind === "refuse") {
      const body = plan.body ?? "";
      socket.end(
        `HTTP/1.1 ${plan.status} Refused\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => {
      const connection = new HubConnection(ws, request);
      this.follow(connection, plan);
      this.connections.push(connection);
    });
  }

  private follow(connection: HubConnection, plan: Plan): void {
    let registered = false;
    connection.ws.on("message", (data) => {
      const text = data.toString();
      if (plan.kind === "mute" || (plan.kind === "silent" && registered)) return;
      if (text === PING_FRAME) return connection.ws.send(PONG_FRAME);
      const message = JSON.parse(text) as NodeToHubMessage;
      if (message.type === "register" && !registered) {
        registered = true;
        if (plan.kind === "close") return connection.ws.close(plan.code, "planned");
        const batches = plan.kind === "accept" && plan.batches ? { batches: true } : {};
        const reply = JSON.stringify({ type: "registered", agentId: message.agentId, tier: message.tier, ...batches });
        connection.ws.send(reply, () => {
          if (plan.kind === "drop") connection.ws.terminate();
        });
      } else if (message.type === "heartbeat") {
        connection.sendJson({ type: "heartbeat_ack", agentId: message.agentId });
      }
    });
  }
}
