import type { CapabilityTier } from "../../protocol/tiers.ts";
import { MISSED_HEARTBEATS_ALLOWED } from "../../protocol/limits.ts";

/**
 * Per-connection state, kept in the socket attachment so it survives hibernation. It stays far below the
 * 16 KiB attachment limit; anything larger or long-lived belongs in SQLite.
 */
export interface NodeSocketState {
  connId: string;
  /** Known at upgrade when the token came in the Authorization header, otherwise from `register`. */
  nodeId: string | null;
  /** Whether the token was already verified at upgrade. */
  authenticated: boolean;
  registered: boolean;
  acceptedAt: number;
  registeredAt: number | null;
  lastHeartbeatAt: number | null;
  heartbeatMs: number;
  tier: CapabilityTier | null;
  invalidMessages: number;
}

export function readState(ws: WebSocket): NodeSocketState {
  return ws.deserializeAttachment() as NodeSocketState;
}

export function writeState(ws: WebSocket, state: NodeSocketState): void {
  ws.serializeAttachment(state);
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
