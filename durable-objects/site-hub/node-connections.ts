import { CloseCode, closeCodeInfo } from "../../protocol/close-codes.ts";
import {
  DEFAULT_HEARTBEAT_MS,
  MAX_FRAME_BYTES,
  MAX_ANONYMOUS_PENDING,
  MAX_INVALID_MESSAGES,
  MIN_HEARTBEAT_MS,
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
import type { LiveBeat } from "../../protocol/live-messages.ts";
import { tierWithin } from "../../protocol/tiers.ts";
import { hashesEqual } from "../shared/secrets.ts";
import type { SupervisionStatus } from "../../protocol/processes.ts";
import { bucketOf, withSample, type MinuteBucket } from "./metrics-history.ts";
import type { ApiError } from "../../protocol/api.ts";
import type { NodeActivityQuota } from "./node-activity-quota.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { checkNodeToken, INVALID_NODE_TOKEN } from "./token-check.ts";
import {
  closeSocket,
  LIVE_METRICS_MAX_CHARS,
  livenessDeadline,
  nodeStateOf,
  readState,
  sendJson,
  writeState,
  type NodeSocketState,
} from "./node-socket.ts";

/** Hooks into the rest of the site for messages that are not about the connection itself. */
export interface ConnectionEvents {
  /**
   * Whether a site was created under this object's name. Without one, nothing a connection does may be stored (not
   * even an alarm), and every token is unknown; sockets are still accepted and refused exactly as on a site, so an
   * anonymous caller cannot tell which names are sites.
   */
  siteExists(): boolean;
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
  /** A node's minute of metrics is over (or its connection ended): store it as history. */
  onMinute(nodeId: string, minute: MinuteBucket, now: number): void;
  /**
   * Writes the node's row: its last heartbeat, its latest metrics when given, and whatever supervision report is not
   * on the row yet. Once per node per minute, and when its connection ends.
   */
  writeHeartbeat(nodeId: string, heartbeatAt: number, metrics: string | null): void;
  /** A node registered on a new connection: what it must be told at once (its process list), what may start now (deployments waiting for it). */
  onRegistered(nodeId: string): void;
  /**
   * A heartbeat brought the status of the node's supervised processes; the answer is whether the row must be written
   * now (something other than the processes' CPU and memory figures changed), else it waits for the minute's write.
   */
  onSupervision(nodeId: string, status: SupervisionStatus, at: number): boolean;
  /** A heartbeat changed the node's last heartbeat time and maybe its metrics, which its socket's state holds. */
  onBeat(beat: LiveBeat): void;
  /** A heartbeat changed what the node's view shows in a way only its row holds (metrics too large for the state). */
  onLiveChange(nodeId: string): void;
}

/** The close frame's reason, from the one table in protocol/. */
function reasonOf(code: number): string {
  return closeCodeInfo(code)?.reason ?? "closed";
}

/** Minimum spacing of liveness sweeps, so a site with many nodes does not turn the alarm into a busy loop. */
const MIN_SWEEP_GAP_MS = 1_000;
/**
 * A sweep reads every socket's tags and attachment in one turn of the object, which blocks everything else for its
 * length: at 10,000 nodes a sweep a second held directives up for hundreds of ms (bench/tenk.bench.ts). Past 2,000
 * sockets the spacing grows with their number, so the sweeps' share of the object's time stops growing with the
 * site, up to one default heartbeat interval: a silent node is then dropped at most that much after its deadline.
 */
const SWEEP_GAP_MS_PER_SOCKET = 0.5;
const MAX_SWEEP_GAP_MS = DEFAULT_HEARTBEAT_MS;

/** The least time between two liveness sweeps of a site holding `sockets` sockets. */
export function sweepGapMs(sockets: number): number {
  return Math.min(MAX_SWEEP_GAP_MS, Math.max(MIN_SWEEP_GAP_MS, sockets * SWEEP_GAP_MS_PER_SOCKET));
}

/** Tag of sockets opened without a token, which anyone may open: their number waiting to register is bounded. */
const ANONYMOUS_TAG = "anonymous";

function refusal(status: 401 | 410 | 429, code: string, message: string): Response {
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
  /**
   * The alarm this object last set (null: none), so scheduling a sweep for every directive does not ask storage each
   * time; undefined until known. Only this class sets the site's alarm, and an alarm only goes away by running, at or
   * after its time: a remembered time that has come is asked for again.
   */
  private alarmAt: number | null | undefined = undefined;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly registry: NodeRegistry,
    /** Everything a connection logs is something its node caused, so it goes through the node's quota. */
    private readonly activity: NodeActivityQuota,
    private readonly events: ConnectionEvents,
  ) {}

  /** The live, registered socket of a node, if it has one. */
  socketOf(nodeId: string): WebSocket | null {
    const connId = this.registry.connIdOf(nodeId);
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
    const siteExists = this.events.siteExists();
    const now = Date.now();
    const state: NodeSocketState = {
      connId: crypto.randomUUID(),
      nodeId: null,
      tokenHash: null,
      registered: false,
      acceptedAt: now,
      registeredAt: null,
      lastHeartbeatAt: null,
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      tier: null,
      invalidMessages: 0,
      metrics: null,
      minute: null,
      rowHeartbeatAt: null,
    };
    const auth = request.headers.get("Authorization");
    if (auth) {
      const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
      if (!token) return refusal(401, "unauthorized", "Authorization must be 'Bearer <node token>'");
      const check = siteExists ? await checkNodeToken(this.registry, token) : INVALID_NODE_TOKEN;
      if (!check.ok) return refusal(check.status, check.code, check.message);
      state.nodeId = check.record.view.id;
      state.tokenHash = check.record.tokenHash;
    } else if (this.anonymousPending() >= MAX_ANONYMOUS_PENDING) {
      return refusal(429, "too_many_pending", "too many connections waiting to register without a token; retry shortly, or send the token with the upgrade");
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, state.nodeId ? [state.connId] : [state.connId, ANONYMOUS_TAG]);
    writeState(server, state);
    if (state.nodeId) this.registry.markConnecting(state.nodeId);
    if (siteExists) await this.scheduleSweep(now + REGISTER_TIMEOUT_MS);
    else setTimeout(() => this.registerTimedOut(server), REGISTER_TIMEOUT_MS);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sockets opened without a token that have not registered yet (and have not been closed). */
  private anonymousPending(): number {
    let pending = 0;
    for (const ws of this.ctx.getWebSockets(ANONYMOUS_TAG)) if (ws.readyState === WebSocket.OPEN && !readState(ws).registered) pending += 1;
    return pending;
  }

  async message(ws: WebSocket, state: NodeSocketState, raw: string | ArrayBuffer): Promise<void> {
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
        this.dropConnection(ws, state, `the agent said goodbye (${msg.reason})`, "info");
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
    if (state.registered) this.dropConnection(ws, state, `connection closed (${code}${reason ? ` ${reason}` : ""})`, code === 1000 ? "info" : "warn");
    else if (state.nodeId) this.registry.markConnectAbandoned(state.nodeId);
    // Completes the closing handshake on runtimes that do not reply to close frames on their own.
    closeSocket(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }

  /**
   * Closes a node's live connection on the hub's initiative (deregister, rekey) and records why, and every socket
   * that presented its token and has not registered yet: whoever opened one holds the token being revoked.
   */
  evict(nodeId: string, code: number, why: string): void {
    for (const pending of this.ctx.getWebSockets()) {
      const state = nodeStateOf(pending);
      if (state && !state.registered && state.nodeId === nodeId) closeSocket(pending, code, reasonOf(code));
    }
    const ws = this.socketOf(nodeId);
    if (!ws) return;
    const state = readState(ws);
    this.dropConnection(ws, state, why, "info");
    closeSocket(ws, code, reasonOf(code));
  }

  /** Closes silent and unregistered sockets, reconciles the registry with the sockets that exist, re-arms the alarm. */
  async sweep(): Promise<void> {
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    const live = new Set<string>();
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      const state = nodeStateOf(ws);
      if (!state) continue;
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
        this.dropConnection(ws, state, "it missed its heartbeats", "warn");
        closeSocket(ws, CloseCode.HEARTBEAT_TIMEOUT, reasonOf(CloseCode.HEARTBEAT_TIMEOUT));
        continue;
      }
      // A minute that ended without a heartbeat after it is stored here, so history never waits on the next one.
      if (state.minute && state.minute.minute < bucketOf(now)) this.flush(ws, state);
      live.add(state.nodeId!);
      next = Math.min(next, deadline);
    }
    this.disconnectAllBut(live, now);
    const other = this.events.nextDeadline(now);
    if (other !== null) next = Math.min(next, other);
    if (Number.isFinite(next)) await this.setAlarm(Math.max(next, now + sweepGapMs(sockets.length)));
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
    if (this.alarmAt === undefined || (this.alarmAt !== null && this.alarmAt <= Date.now())) this.alarmAt = await this.ctx.storage.getAlarm();
    if (this.alarmAt === null || this.alarmAt > at) await this.setAlarm(at);
  }

  /** Called as the alarm runs: it is gone from storage, whatever time was remembered (tests run alarms early). */
  alarmRunning(): void {
    this.alarmAt = undefined;
  }

  private async setAlarm(at: number): Promise<void> {
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
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
      this.dropConnection(ws, state, "it sent too many invalid messages", "warn");
      closeSocket(ws, CloseCode.PROTOCOL_VIOLATION, reasonOf(CloseCode.PROTOCOL_VIOLATION));
    }
  }

  /** The register timeout of a socket on an object with no site, which has no alarm to run the sweep. */
  private registerTimedOut(ws: WebSocket): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    const state = readState(ws);
    if (!state.registered) this.close(ws, state, CloseCode.REGISTER_TIMEOUT, "no register in time");
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
    if (!state.tokenHash) {
      if (!msg.token) return this.close(ws, state, CloseCode.UNAUTHORIZED, "no token in the upgrade request or the register message");
      const check = this.events.siteExists() ? await checkNodeToken(this.registry, msg.token) : INVALID_NODE_TOKEN;
      if (!check.ok) {
        return this.close(ws, state, check.status === 410 ? CloseCode.DEREGISTERED : CloseCode.UNAUTHORIZED, check.message);
      }
      state.nodeId = check.record.view.id;
      // Compared again below with the node's record as it is after the await: a rekey during it must refuse this socket.
      state.tokenHash = check.record.tokenHash;
    }
    // Everything below is synchronous, so no other event can interleave between the checks and the writes.
    const nodeId = state.nodeId!;
    const record = this.registry.get(nodeId);
    if (!record || record.view.status === "deregistered") return this.close(ws, state, CloseCode.DEREGISTERED, `node ${nodeId} was deregistered`);
    if (state.tokenHash && !hashesEqual(state.tokenHash, record.tokenHash)) {
      return this.close(ws, state, CloseCode.UNAUTHORIZED, "the node's token was replaced after this connection opened");
    }
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
      this.dropConnection(previous, prevState, "it reconnected while its old connection was silent; the new one replaces it", "warn");
      closeSocket(previous, CloseCode.REPLACED, reasonOf(CloseCode.REPLACED));
    }
    Object.assign(state, {
      registered: true,
      registeredAt: now,
      rowHeartbeatAt: now,
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

  /**
   * A heartbeat lives with the socket: the node's row is written on the first heartbeat of each minute (with the
   * minute before stored as history), when a supervision report changed more than its figures, or when the metrics
   * are too large to ride in the attachment (at most once a second); readers see the rest through the attachment
   * (`liveState`).
   */
  private heartbeat(ws: WebSocket, state: NodeSocketState, msg: HeartbeatMessage): void {
    if (msg.agentId !== state.nodeId) {
      sendJson(ws, { type: "error", message: `heartbeat for ${msg.agentId} on the connection of ${state.nodeId}`, code: "node_mismatch" });
      return;
    }
    const now = Date.now();
    const nodeId = state.nodeId;
    if (state.minute && state.minute.minute !== bucketOf(now)) {
      this.events.onMinute(nodeId, state.minute, now);
      state.minute = null;
    }
    const metrics = msg.metrics ? JSON.stringify(msg.metrics) : null;
    if (msg.metrics) {
      state.minute = withSample(state.minute, msg.metrics, now);
      state.metrics = metrics!.length <= LIVE_METRICS_MAX_CHARS ? msg.metrics : null;
    }
    const first = state.lastHeartbeatAt === null;
    state.lastHeartbeatAt = now;
    const supervisionDue = msg.supervision ? this.events.onSupervision(nodeId, msg.supervision, now) : false;
    // Metrics too large for the attachment (dozens of GPUs) live in the row, written at most once per MIN_HEARTBEAT_MS:
    // a node may send heartbeats back to back, and each would be a row write and a whole row to every dashboard.
    const large = metrics !== null && state.metrics === null;
    const largeDue = large && (first || state.rowHeartbeatAt === null || now - state.rowHeartbeatAt >= MIN_HEARTBEAT_MS);
    const rowDue = state.rowHeartbeatAt === null || bucketOf(state.rowHeartbeatAt) !== bucketOf(now) || largeDue;
    const written = rowDue || supervisionDue;
    if (written) this.writeRow(state, metrics);
    writeState(ws, state);
    if (!large) this.events.onBeat({ id: nodeId, lastHeartbeatAt: now, ...(state.metrics ? { metrics: state.metrics } : {}) });
    else if (written) this.events.onLiveChange(nodeId);
    sendJson(ws, { type: "heartbeat_ack", agentId: nodeId });
  }

  private writeRow(state: NodeSocketState, metrics: string | null): void {
    if (state.lastHeartbeatAt === null) return;
    this.events.writeHeartbeat(state.nodeId!, state.lastHeartbeatAt, metrics ?? (state.metrics ? JSON.stringify(state.metrics) : null));
    state.rowHeartbeatAt = state.lastHeartbeatAt;
  }

  /** Stores what the attachment holds and the row does not: the minute of history under way and the last heartbeat. */
  private flush(ws: WebSocket, state: NodeSocketState): void {
    if (!state.nodeId) return;
    if (state.minute) {
      this.events.onMinute(state.nodeId, state.minute, Date.now());
      state.minute = null;
    }
    if (state.lastHeartbeatAt !== null && state.lastHeartbeatAt !== state.rowHeartbeatAt) this.writeRow(state, null);
    writeState(ws, state);
  }

  /**
   * Records that a registered connection is over, if it is still the node's current one: info when it ended in
   * order (a goodbye, a person's deregister or rekey), a warning when it broke.
   */
  private dropConnection(ws: WebSocket, state: NodeSocketState, why: string, level: "info" | "warn"): void {
    if (!state.nodeId) return;
    this.flush(ws, state);
    if (this.registry.markDisconnected(state.nodeId, state.connId, Date.now())) {
      this.activity.append({ kind: "node", level, nodeId: state.nodeId, message: `node ${state.nodeId} disconnected: ${why}` });
      this.events.onNodeGone(state.nodeId, why);
    }
  }
}
