import { CloseCode, closeCodeInfo } from "../../protocol/close-codes.ts";
import {
  DEFAULT_HEARTBEAT_MS,
  MAX_FRAME_BYTES,
  MAX_INVALID_MESSAGES,
  REGISTER_TIMEOUT_MS,
} from "../../protocol/limits.ts";
import {
  NodeToHubMessage,
  type BatchedMessage,
  type HeartbeatMessage,
  type HubToNodeMessage,
  type NodeToHubMessage as NodeToHubMessageType,
  type RegisterMessage,
} from "../../protocol/node-messages.ts";
import { tierWithin } from "../../protocol/tiers.ts";
import type { Metrics } from "../../protocol/metrics.ts";
import type { ApiError } from "../../protocol/api.ts";
import type { NodeActivityQuota } from "./node-activity-quota.ts";
import { isViewer } from "./live-viewers.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { checkNodeToken } from "./token-check.ts";
import {
  closeSocket,
  livenessDeadline,
  readState,
  sendJson,
  writeState,
  type NodeSocketState,
} from "./node-socket.ts";

/** Hooks into the rest of the site for messages that are not about the connection itself. */
export interface ConnectionEvents {
  /**
   * A registered node sent a message about work (results, chunks, acks, run completions); the answer is why it
   * was refused (it is about work that is not the node's), or null.
   */
  onWorkMessage(nodeId: string, message: NodeToHubMessageType): string | null;
  /** The messages of one `batch` frame, in order; the answer is why any of them were refused. */
  onWorkMessages(nodeId: string, messages: readonly BatchedMessage[]): string[];
  /** A node's live connection ended, for whatever reason. */
  onNodeGone(nodeId: string, reason: string): void;
  /** The earliest moment something outside the connections needs the alarm (directive timeouts), or null. */
  nextDeadline(now: number): number | null;
  /** A heartbeat brought metrics (kept as history). */
  onMetrics(nodeId: string, metrics: Metrics, at: number): void;
  /** A node registered on a new connection: what it must be told at once (its process list), what may start now (deployments waiting for it). */
  onRegistered(nodeId: string): void;
  /** A heartbeat brought the status of the node's supervised processes (already stored on its row). */
  onSupervision(nodeId: string): void;
}

/** The close frame's reason, from the one table in protocol/. */
function reasonOf(code: number): string {
  return closeCodeInfo(code)?.reason ?? "closed";
}

/** Minimum spacing of liveness sweeps, so a site with many nodes does not turn the alarm into a busy loop. */
const MIN_SWEEP_GAP_MS = 1_000;

function refusal(status: 401 | 410, code: string, message: string): Response {
  const body: ApiError = { error: { code, message } };
  return Response.json(body, { status });
}

/**
 * The node side of a site: accepting agent sockets (hibernatable), registration, liveness and their effects on
 * the node registry. Liveness scheme: agents send a "ping" text frame every heartbeat interval, which the runtime
 * answers with "pong" through `setWebSocketAutoResponse` without waking the object; every few intervals they send a
 * full `heartbeat` with metrics, which does wake it. A sweep on the object's alarm, one per site rather than one per
 * node, compares each socket's latest sign of life (auto-response timestamp, heartbeat, register) with its deadline.
 * Real heartbeats double as the fallback should the auto-response timestamp ever be stale.
 */
export class NodeConnections {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly registry: NodeRegistry,
    /** Everything a connection logs is something its node caused, so it goes through the node's quota. */
    private readonly activity: NodeActivityQuota,
    private readonly events: ConnectionEvents,
  ) {}

  /** The live, registered socket of a node, if it has one. */
  socketOf(nodeId: string): WebSocket | null {
    const connId = this.registry.get(nodeId)?.connId;
    if (!connId) return null;
    const ws = this.ctx.getWebSockets(connId)[0];
    return ws && readState(ws).registered ? ws : null;
  }

  send(nodeId: string, message: HubToNodeMessage): boolean {
    const ws = this.socketOf(nodeId);
    return ws ? sendJson(ws, message) : false;
  }

  async accept(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return Response.json({ error: { code: "upgrade_required", message: "expected a WebSocket upgrade" } }, { status: 426 });
    }
    const now = Date.now();
    const state: NodeSocketState = {
      connId: crypto.randomUUID(),
      nodeId: null,
      authenticated: false,
      registered: false,
      acceptedAt: now,
      registeredAt: null,
      lastHeartbeatAt: null,
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      tier: null,
      invalidMessages: 0,
    };
    const auth = request.headers.get("Authorization");
    if (auth) {
      const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
      if (!token) return refusal(401, "unauthorized", "Authorization must be 'Bearer <node token>'");
      const check = await checkNodeToken(this.registry, token);
      if (!check.ok) return refusal(check.status, check.code, check.message);
      state.nodeId = check.record.view.id;
      state.authenticated = true;
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [state.connId]);
    writeState(server, state);
    if (state.nodeId) this.registry.markConnecting(state.nodeId);
    await this.scheduleSweep(now + REGISTER_TIMEOUT_MS);
    return new Response(null, { status: 101, webSocket: client });
  }

  async message(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const state = readState(ws);
    const parsed = this.parse(raw);
    if (!parsed.ok) return this.invalid(ws, state, parsed.message);
    const msg = parsed.message;
    if (!state.registered) {
      if (msg.type !== "register") return this.close(ws, state, CloseCode.REGISTER_INVALID, `${msg.type} before register`);
      return this.register(ws, state, msg);
    }
    switch (msg.type) {
      case "register":
        sendJson(ws, { type: "error", message: "already registered on this connection", code: "already_registered" });
        return;
      case "heartbeat":
        return this.heartbeat(ws, state, msg);
      case "disconnect":
        this.dropConnection(state, `the agent said goodbye (${msg.reason})`, "info");
        closeSocket(ws, 1000, "bye");
        return;
      case "error":
        this.activity.append({ kind: "node", level: "warn", nodeId: state.nodeId, message: `node ${state.nodeId} reported: ${msg.message}` });
        return;
      case "batch":
        // One turn for the whole frame, so everything in it is written in one commit.
        for (const refused of this.events.onWorkMessages(state.nodeId!, msg.messages)) this.invalid(ws, state, refused, "not_yours");
        return;
      default: {
        const refused = this.events.onWorkMessage(state.nodeId!, msg);
        if (refused) this.invalid(ws, state, refused, "not_yours");
      }
    }
  }

  closed(ws: WebSocket, code: number, reason: string): void {
    const state = readState(ws);
    // A normal closure without a goodbye is still an orderly end; any other close is the unexpected kind.
    if (state.registered) this.dropConnection(state, `connection closed (${code}${reason ? ` ${reason}` : ""})`, code === 1000 ? "info" : "warn");
    else if (state.nodeId) this.registry.markConnectAbandoned(state.nodeId);
    // Completes the closing handshake on runtimes that do not reply to close frames on their own.
    closeSocket(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  /** Closes a node's live connection on the hub's initiative (deregister, rekey) and records why. */
  evict(nodeId: string, code: number, why: string): void {
    const ws = this.socketOf(nodeId);
    if (!ws) return;
    const state = readState(ws);
    this.dropConnection(state, why, "info");
    closeSocket(ws, code, reasonOf(code));
  }

  /** Closes silent and unregistered sockets, reconciles the registry with the sockets that exist, re-arms the alarm. */
  async sweep(): Promise<void> {
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    const live = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      if (isViewer(this.ctx, ws)) continue;
      const state = readState(ws);
      if (!state.registered) {
        const deadline = state.acceptedAt + REGISTER_TIMEOUT_MS;
        if (now >= deadline) this.close(ws, state, CloseCode.REGISTER_TIMEOUT, "no register in time");
        else {
          next = Math.min(next, deadline);
          if (state.nodeId) live.add(state.nodeId);
        }
        continue;
      }
      const deadline = livenessDeadline(state, this.ctx.getWebSocketAutoResponseTimestamp(ws));
      if (now >= deadline) {
        this.dropConnection(state, "it missed its heartbeats", "warn");
        closeSocket(ws, CloseCode.HEARTBEAT_TIMEOUT, reasonOf(CloseCode.HEARTBEAT_TIMEOUT));
        continue;
      }
      live.add(state.nodeId!);
      next = Math.min(next, deadline);
    }
    this.disconnectAllBut(live, now);
    const other = this.events.nextDeadline(now);
    if (other !== null) next = Math.min(next, other);
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(Math.max(next, now + MIN_SWEEP_GAP_MS));
  }

  /**
   * A restarted hub has no sockets at all, yet its registry may still call nodes connected; correct that at once
   * instead of waiting for the first sweep, so no directive is sent into the void meanwhile.
   */
  reconcileAfterRestart(): void {
    if (this.ctx.getWebSockets().length === 0) this.disconnectAllBut(new Set(), Date.now());
  }

  /** Marks disconnected every node the registry calls live that has no socket in `live`. */
  private disconnectAllBut(live: ReadonlySet<string>, now: number): void {
    for (const id of this.registry.liveIds()) {
      if (live.has(id)) continue;
      if (this.registry.markDisconnected(id, null, now)) {
        this.activity.append({ kind: "node", level: "warn", nodeId: id, message: `node ${id} disconnected: it has no live connection (hub restarted?)` });
        this.events.onNodeGone(id, "hub lost the connection");
      }
    }
  }

  /** Makes sure a sweep runs no later than `at`. */
  async scheduleSweep(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private parse(raw: string | ArrayBuffer): { ok: true; message: NodeToHubMessageType } | { ok: false; message: string } {
    if (typeof raw !== "string") return { ok: false, message: "binary frames are not part of the protocol" };
    if (raw.length > MAX_FRAME_BYTES) return { ok: false, message: `frame over ${MAX_FRAME_BYTES} bytes` };
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return { ok: false, message: "frame is not valid JSON" };
    }
    const result = NodeToHubMessage.safeParse(json);
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
      return { ok: false, message: `invalid message${where}: ${issue?.message ?? "unknown shape"}` };
    }
    return { ok: true, message: result.data };
  }

  /** Answers a message the hub refuses; too many of them on one connection close it. */
  private invalid(ws: WebSocket, state: NodeSocketState, why: string, code = "invalid_message"): void {
    if (!state.registered) return this.close(ws, state, CloseCode.REGISTER_INVALID, why);
    state.invalidMessages += 1;
    writeState(ws, state);
    sendJson(ws, { type: "error", message: why, code });
    if (state.invalidMessages > MAX_INVALID_MESSAGES) {
      this.dropConnection(state, "it sent too many invalid messages", "warn");
      closeSocket(ws, CloseCode.PROTOCOL_VIOLATION, reasonOf(CloseCode.PROTOCOL_VIOLATION));
    }
  }

  /** Refuses a connection that never became a registered node. */
  private close(ws: WebSocket, state: NodeSocketState, code: number, detail: string): void {
    sendJson(ws, { type: "error", message: detail, code });
    if (state.nodeId && code !== CloseCode.REGISTER_TIMEOUT) {
      this.registry.markRefused(state.nodeId, `${reasonOf(code)}: ${detail}`);
      this.activity.append({ kind: "node", level: "warn", nodeId: state.nodeId, message: `connection of node ${state.nodeId} refused: ${detail}` });
    } else if (state.nodeId) {
      this.registry.markConnectAbandoned(state.nodeId);
    }
    closeSocket(ws, code, reasonOf(code));
  }

  private async register(ws: WebSocket, state: NodeSocketState, msg: RegisterMessage): Promise<void> {
    if (!state.authenticated) {
      if (!msg.token) return this.close(ws, state, CloseCode.UNAUTHORIZED, "no token in the upgrade request or the register message");
      const check = await checkNodeToken(this.registry, msg.token);
      if (!check.ok) {
        return this.close(ws, state, check.status === 410 ? CloseCode.DEREGISTERED : CloseCode.UNAUTHORIZED, check.message);
      }
      state.nodeId = check.record.view.id;
    }
    // Everything below is synchronous, so no other event can interleave between the checks and the writes.
    const nodeId = state.nodeId!;
    const record = this.registry.get(nodeId);
    if (!record || record.view.status === "deregistered") return this.close(ws, state, CloseCode.DEREGISTERED, `node ${nodeId} was deregistered`);
    if (msg.agentId !== nodeId) {
      return this.close(ws, state, CloseCode.NODE_MISMATCH, `agentId ${msg.agentId} does not match the token's node ${nodeId}`);
    }
    const tier = msg.tier ?? record.view.tier;
    if (!tierWithin(tier, record.view.tier)) {
      return this.close(ws, state, CloseCode.TIER_ABOVE_CEILING, `tier ${tier} requested, ceiling is ${record.view.tier}`);
    }
    const now = Date.now();
    const previous = record.connId ? this.ctx.getWebSockets(record.connId)[0] : undefined;
    if (previous && previous !== ws) {
      const prevState = readState(previous);
      if (prevState.registered && now < livenessDeadline(prevState, this.ctx.getWebSocketAutoResponseTimestamp(previous))) {
        sendJson(ws, { type: "error", message: `node ${nodeId} is already connected and alive`, code: CloseCode.ALREADY_CONNECTED });
        this.activity.append({ kind: "node", level: "warn", nodeId, message: `second connection for node ${nodeId} refused: already connected` });
        closeSocket(ws, CloseCode.ALREADY_CONNECTED, reasonOf(CloseCode.ALREADY_CONNECTED));
        return;
      }
      this.dropConnection(prevState, "it reconnected while its old connection was silent; the new one replaces it", "warn");
      closeSocket(previous, CloseCode.REPLACED, reasonOf(CloseCode.REPLACED));
    }
    Object.assign(state, {
      registered: true,
      registeredAt: now,
      tier,
      heartbeatMs: msg.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    } satisfies Partial<NodeSocketState>);
    writeState(ws, state);
    this.registry.markConnected(
      nodeId,
      {
        connId: state.connId,
        runningTier: tier,
        version: msg.version,
        capabilities: msg.capabilities,
        hostname: msg.hostname ?? null,
        os: msg.os ?? null,
        arch: msg.arch ?? null,
        sandboxRoot: msg.sandboxRoot ?? null,
      },
      now,
    );
    if (msg.name !== record.view.name || (msg.group ?? null) !== record.view.group) {
      this.activity.append({
        kind: "node",
        level: "debug",
        nodeId,
        message: `node ${nodeId} calls itself "${msg.name}"${msg.group ? ` in group ${msg.group}` : ""}; the registered name and group are kept`,
      });
    }
    this.activity.append({
      kind: "node",
      nodeId,
      message: `node ${nodeId} connected (tier ${tier}, agent ${msg.version}${msg.hostname ? `, host ${msg.hostname}` : ""})`,
    });
    sendJson(ws, { type: "registered", agentId: nodeId, tier, heartbeatMs: state.heartbeatMs, batches: true });
    this.events.onRegistered(nodeId);
    await this.scheduleSweep(livenessDeadline(state, null));
  }

  private heartbeat(ws: WebSocket, state: NodeSocketState, msg: HeartbeatMessage): void {
    if (msg.agentId !== state.nodeId) {
      sendJson(ws, { type: "error", message: `heartbeat for ${msg.agentId} on the connection of ${state.nodeId}`, code: "node_mismatch" });
      return;
    }
    const now = Date.now();
    state.lastHeartbeatAt = now;
    writeState(ws, state);
    this.registry.recordHeartbeat(state.nodeId, msg.metrics ? JSON.stringify(msg.metrics) : null, now, msg.supervision ? JSON.stringify(msg.supervision) : null);
    if (msg.metrics) this.events.onMetrics(state.nodeId, msg.metrics, now);
    if (msg.supervision) this.events.onSupervision(state.nodeId);
    sendJson(ws, { type: "heartbeat_ack", agentId: state.nodeId });
  }

  /**
   * Records that a registered connection is over, if it is still the node's current one: info when it ended in
   * order (a goodbye, a person's deregister or rekey), a warning when it broke.
   */
  private dropConnection(state: NodeSocketState, why: string, level: "info" | "warn"): void {
    if (!state.nodeId) return;
    if (this.registry.markDisconnected(state.nodeId, state.connId, Date.now())) {
      this.activity.append({ kind: "node", level, nodeId: state.nodeId, message: `node ${state.nodeId} disconnected: ${why}` });
      this.events.onNodeGone(state.nodeId, why);
    }
  }
}
