import type { CapabilityTier } from "../../protocol/tiers.ts";
import { MISSED_HEARTBEATS_ALLOWED } from "../../protocol/limits.ts";
import type { Metrics } from "../../protocol/metrics.ts";
import type { MinuteBucket } from "./metrics-history.ts";

/**
 * The largest latest-metrics JSON kept in the attachment; larger ones (dozens of GPUs) go to the node's row at once,
 * so the attachment stays within the runtime's limit (16 KiB in workerd since 2026, 2,048 bytes before) whatever
 * the agent sends.
 */
export const LIVE_METRICS_MAX_CHARS = 1_024;

/**
 * Per-connection state, kept in the socket attachment so it survives hibernation. It stays under 2,048 bytes
 * serialized (the older runtimes' limit): numbers, short ids and at most LIVE_METRICS_MAX_CHARS of metrics; anything
 * larger or long-lived belongs in SQLite.
 */
export interface NodeSocketState {
  connId: string;
  /** Known at upgrade when the token came in the Authorization header, otherwise from `register`. */
  nodeId: string | null;
  /**
   * The stored hash of the token verified at upgrade, null when the token comes in `register`. `register` compares it
   * with the node's hash again: a rekey or a re-registration between the two must not let the old token in.
   */
  tokenHash: string | null;
  registered: boolean;
  acceptedAt: number;
  registeredAt: number | null;
  lastHeartbeatAt: number | null;
  heartbeatMs: number;
  tier: CapabilityTier | null;
  invalidMessages: number;
  /**
   * What heartbeats brought since the node's row was last written, which happens once a minute (and when the
   * connection ends): the latest metrics, when small enough to ride here (else the row was written at once), and the
   * minute of metrics history under way, stored when the minute is over.
   */
  metrics: Metrics | null;
  minute: MinuteBucket | null;
  /** The heartbeat time the node's row holds (its register time before any heartbeat). */
  rowHeartbeatAt: number | null;
}

export function readState(ws: WebSocket): NodeSocketState {
  return ws.deserializeAttachment() as NodeSocketState;
}

/**
 * The state of a node's socket, or null for a dashboard viewer's: a node's socket gets its state in the turn that
 * accepts it, before any event can reach it, and a viewer's never has one. One attachment read, which a node's
 * events need anyway, tells the two apart; asking the runtime for the socket's tags on every frame was about a
 * seventh of the object's time at 3,000 heartbeating nodes.
 */
export function nodeStateOf(ws: WebSocket): NodeSocketState | null {
  return (ws.deserializeAttachment() as NodeSocketState | null) ?? null;
}

export function writeState(ws: WebSocket, state: NodeSocketState): void {
  ws.serializeAttachment(state);
}

/**
 * The state of a registered connection, found by its id (the node row's `conn_id`, also the socket's tag): one tag
 * lookup and one attachment read, which works the same after the object hibernated and woke.
 */
export function liveState(ctx: DurableObjectState, connId: string): NodeSocketState | null {
  const ws = ctx.getWebSockets(connId)[0];
  if (!ws) return null;
  const state = readState(ws);
  return state.registered ? state : null;
}

/**
 * The last moment the node showed life: a real heartbeat, its register, or a "ping" answered by the runtime's
 * auto-response (which does not wake the object, so it is read from the runtime rather than stored).
 */
export function lastSeen(state: NodeSocketState, autoResponseAt: Date | null): number {
  return Math.max(state.registeredAt ?? state.acceptedAt, state.lastHeartbeatAt ?? 0, autoResponseAt?.getTime() ?? 0);
}

export function livenessDeadline(state: NodeSocketState, autoResponseAt: Date | null): number {
  return lastSeen(state, autoResponseAt) + state.heartbeatMs * MISSED_HEARTBEATS_ALLOWED;
}

/** Sends a frame, tolerating a socket the peer has already closed: the close handler cleans up after it. */
export function sendJson(ws: WebSocket, message: unknown): boolean {
  try {
    ws.send(JSON.stringify(message));
    return true;
  } catch {
    return false;
  }
}

/** Closes with a code and a reason that fits the 123-byte limit; closing an already-closed socket is harmless. */
export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  const bytes = new TextEncoder().encode(reason);
  const safe = bytes.byteLength <= 120 ? reason : new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, "");
  try {
    ws.close(code, safe);
  } catch {
    // Already closing or closed; nothing left to do.
  }
}
