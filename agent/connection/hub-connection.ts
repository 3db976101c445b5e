import WebSocket from "ws";
import type { IncomingMessage } from "node:http";
import { HubToNodeMessage, type HeartbeatMessage, type NodeToHubMessage } from "../../protocol/node-messages.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { MAX_FRAME_BYTES, PING_FRAME, PONG_FRAME } from "../../protocol/limits.ts";
import type { DirectiveHandler, SendToHub } from "../directives/directive-handler.ts";
import type { ProcessSupervisor } from "../supervisor/process-supervisor.ts";
import { errorText, seconds, type Logger } from "./logger.ts";
import { Liveness } from "./liveness.ts";
import { registerMessage, type LiveSettings } from "./register-message.ts";
import { HUB_SOCKET_OPTIONS } from "./socket-options.ts";
import { verdictOfClose, verdictOfUpgrade, type Verdict } from "./verdict.ts";
import { WorkOutbox } from "./work-outbox.ts";

export interface SessionContext {
  url: string;
  agentId: string;
  tier: CapabilityTier;
  sandboxRoot: string;
  connectTimeoutMs: number;
  /** Shared with later sessions: config_update and rekey change it for the next register. */
  settings: LiveSettings;
  handler: DirectiveHandler;
  /** The agent-wide send given to the handler; it follows reconnects, unlike this session's own send. */
  send: SendToHub;
  heartbeat(): Promise<HeartbeatMessage>;
  /** The machine's process supervisor: takes the process list from config_update and reports events. */
  supervisor?: ProcessSupervisor;
  log: Logger;
  now(): number;
}

export type SessionEnd = Verdict & { registeredMs: number };

type HubMessageOf<T extends HubToNodeMessage["type"]> = Extract<HubToNodeMessage, { type: T }>;

const MAX_REFUSAL_BODY_BYTES = 16 * 1024;

/** One WebSocket connection to the hub, from dial to close: register, liveness, and routing of hub messages. */
export class HubSession {
  readonly ended: Promise<SessionEnd>;
  private readonly ws: WebSocket;
  private readonly liveness: Liveness;
  private readonly connectTimer: NodeJS.Timeout;
  private registeredAt: number | undefined;
  /** Set when the hub takes `batch` frames: directive messages then go through it. */
  private outbox: WorkOutbox | null = null;
  private lastHeardAt: number;
  /** The first explanation of why the connection ends wins; the events after it are its consequences. */
  private verdict: Verdict | undefined;

  constructor(private readonly ctx: SessionContext) {
    this.lastHeardAt = ctx.now();
    this.liveness = new Liveness(ctx.now, () => this.lastHeardAt, {
      ping: () => {
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send(PING_FRAME);
      },
      heartbeat: () => void ctx.heartbeat().then((message) => this.send(message)),
      silent: (silentMs) => this.abandon(`nothing heard from the hub for ${seconds(silentMs)}`),
    });
    this.ws = new WebSocket(ctx.url, { ...HUB_SOCKET_OPTIONS, headers: { Authorization: `Bearer ${ctx.settings.token}` } });
    this.connectTimer = setTimeout(
      () => this.abandon(`not registered within ${seconds(ctx.connectTimeoutMs)}`),
      ctx.connectTimeoutMs,
    );
    this.ended = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => {
        clearTimeout(this.connectTimer);
        this.liveness.stop();
        this.outbox?.discard();
        const registeredMs = this.registeredAt === undefined ? 0 : ctx.now() - this.registeredAt;
        resolve({ ...(this.verdict ?? verdictOfClose(code, reason.toString())), registeredMs });
      });
    });
    this.ws.on("open", () => this.write(registerMessage(ctx.agentId, ctx.tier, ctx.sandboxRoot, ctx.settings)));
    this.ws.on("message", (data, isBinary) => this.receive(isBinary ? null : data.toString()));
    this.ws.on("unexpected-response", (_request, response) => this.refusedUpgrade(response));
    this.ws.on("error", (error) => {
      this.verdict ??= { exit: false, reason: `connection failed: ${error.message}` };
    });
  }

  /** Sends on this connection once it is registered and open; false otherwise. */
  send(message: NodeToHubMessage): boolean {
    if (this.registeredAt === undefined || this.ws.readyState !== WebSocket.OPEN) return false;
    return this.outbox ? this.outbox.send(message) : this.write(message);
  }

  /** Says goodbye and closes normally, cutting the socket if the hub does not answer within the connect timeout. */
  async stop(reason: string): Promise<void> {
    if (this.send({ type: "disconnect", reason })) this.ws.close(1000, "agent stopping");
    else this.ws.terminate();
    const deadline = setTimeout(() => this.ws.terminate(), this.ctx.connectTimeoutMs);
    await this.ended;
    clearTimeout(deadline);
  }

  private write(message: NodeToHubMessage): boolean {
    return this.writeText(JSON.stringify(message), message.type);
  }

  /** Sends one frame's JSON text (`type`, for the log, is its message's type). */
  private writeText(text: string, type: string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    // The hub's runtime closes the socket on an oversized frame, which would drop everything else in flight.
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_FRAME_BYTES) {
      this.ctx.log("error", `dropped a ${type} message of ${bytes} bytes: over the frame limit`);
      return false;
    }
    this.ws.send(text);
    return true;
  }

  private abandon(reason: string): void {
    this.verdict ??= { exit: false, reason };
    this.ws.terminate();
  }

  private refusedUpgrade(response: IncomingMessage): void {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      if (size >= MAX_REFUSAL_BODY_BYTES) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    response.once("close", () => {
      this.verdict ??= verdictOfUpgrade(response.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"));
      this.ws.terminate();
    });
  }

  private receive(text: string | null): void {
    this.lastHeardAt = this.ctx.now();
    if (text === PONG_FRAME) return;
    const message = parseHubMessage(text);
    if (typeof message === "string") {
      this.ctx.log("warn", `ignored an invalid message from the hub: ${message}`);
      return;
    }
    try {
      this.route(message);
    } catch (error) {
      this.ctx.log("error", `handling a ${message.type} message failed: ${errorText(error)}`);
    }
  }

  private route(message: HubToNodeMessage): void {
    const { handler } = this.ctx;
    switch (message.type) {
      case "registered":
        return this.registered(message.agentId, message.batches === true);
      case "heartbeat_ack":
        return;
      case "directive":
        return handler.run(message, this.ctx.send);
      case "cancel":
        return handler.cancel(message.directiveId);
      case "run_complete_ack":
        return handler.runCompleteAcknowledged(message.runId);
      case "process_events_ack":
        return this.ctx.supervisor?.acknowledged(message.ids);
      case "config_update":
        return this.configUpdate(message);
      case "rekey":
        return this.rekey(message);
      case "error":
        return this.ctx.log("warn", `hub error${message.code === undefined ? "" : ` ${message.code}`}: ${message.message}`);
    }
  }

  private registered(agentId: string, batches: boolean): void {
    if (this.registeredAt !== undefined) return;
    clearTimeout(this.connectTimer);
    this.registeredAt = this.ctx.now();
    // A hub that does not say it takes batches gets every message in a frame of its own, as before.
    if (batches) this.outbox = new WorkOutbox((frame, type) => this.writeText(frame, type));
    this.ctx.log("info", `registered as ${agentId} (tier ${this.ctx.tier}, heartbeat ${seconds(this.ctx.settings.heartbeatMs)})`);
    this.liveness.start(this.ctx.settings.heartbeatMs);
    this.ctx.handler.connected(this.ctx.send);
    this.ctx.supervisor?.connected(this.ctx.send);
  }

  private configUpdate(message: HubMessageOf<"config_update">): void {
    const { settings } = this.ctx;
    const changes: string[] = [];
    if (message.name !== undefined) {
      settings.name = message.name;
      changes.push(`name ${message.name}`);
    }
    if (message.group !== undefined) {
      settings.group = message.group;
      changes.push(`group ${message.group}`);
    }
    if (message.heartbeatMs !== undefined) {
      settings.heartbeatMs = message.heartbeatMs;
      changes.push(`heartbeat ${seconds(message.heartbeatMs)}`);
      if (this.registeredAt !== undefined) this.liveness.start(message.heartbeatMs);
    }
    if (message.processes !== undefined) {
      if (!this.ctx.supervisor) changes.push("a process list, ignored: this agent does not supervise processes");
      else if (this.ctx.supervisor.applyConfig(message.processes)) changes.push(`process list version ${message.processes.version}`);
    }
    this.ctx.log("info", `config update from the hub: ${changes.join(", ") || "nothing changed"}`);
  }

  private rekey(message: HubMessageOf<"rekey">): void {
    if (message.agentId !== this.ctx.agentId) {
      this.ctx.log("warn", `ignored a rekey for another node (${message.agentId})`);
      return;
    }
    this.ctx.settings.token = message.newToken;
    this.ctx.log("info", "the hub rotated this node's token; the new one is used from the next connection");
  }
}

function parseHubMessage(text: string | null): HubToNodeMessage | string {
  if (text === null) return "binary frame";
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  const parsed = HubToNodeMessage.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  return `${issue.path.join(".") || "message"}: ${issue.message}`;
}
