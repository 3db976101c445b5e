import type { NodeView } from "../../protocol/api.ts";
import type { LiveMessage, LiveNode } from "../../protocol/live-messages.ts";
import type { SupervisionStatus } from "../../protocol/processes.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { ownerTags, type SocketOwner } from "../shared/user-sockets.ts";
import { closeSocket, sendJson } from "./node-socket.ts";

/** Tag of dashboard sockets. Node sockets are tagged with their connection id (a UUID), so the two never meet. */
export const VIEWER_TAG = "viewer";

/** The Worker forwards an authorised dashboard upgrade to the object under this path; agents never reach it. */
export const VIEWER_PATH = "/viewer";

/** The viewer's owner travels in the forwarded request's query, set by the Worker after authentication. */
export function viewerUrl(base: string, owner: SocketOwner | null): URL {
  const url = new URL(VIEWER_PATH, base);
  if (owner) {
    url.searchParams.set("user", owner.userId);
    if (owner.sessionId) url.searchParams.set("session", owner.sessionId);
    if (owner.apiKeyId) url.searchParams.set("key", owner.apiKeyId);
  }
  return url;
}

export function viewerOwner(url: URL): SocketOwner | null {
  const userId = url.searchParams.get("user");
  return userId ? { userId, sessionId: url.searchParams.get("session"), apiKeyId: url.searchParams.get("key") } : null;
}

export function isViewer(ctx: DurableObjectState, ws: WebSocket): boolean {
  return ctx.getTags(ws).includes(VIEWER_TAG);
}

function liveNode(view: NodeView): LiveNode {
  const { tokenPrefix: _prefix, capabilities: _caps, ...rest } = view;
  return rest;
}

/**
 * Dashboards watching the site: hibernatable sockets that get every node on connect and then one message per
 * change of a node's row. Viewers only listen; a "ping" they send is answered by the runtime without waking the
 * object, and anything else they send is ignored.
 */
export class LiveViewers {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly registry: NodeRegistry,
  ) {}

  /** Accepts a viewer, tagged with who opened it (null for the admin key) so losing access can close it. */
  accept(owner: SocketOwner | null): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [VIEWER_TAG, ...(owner ? ownerTags(owner) : [])]);
    const snapshot: LiveMessage = { type: "snapshot", at: Date.now(), nodes: this.registry.list().map((r) => liveNode(r.view)) };
    sendJson(server, snapshot);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Pushes a node's current row to every viewer; costs one tag lookup when nobody watches. */
  nodeChanged(nodeId: string): void {
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (!viewers.length) return;
    const rec = this.registry.get(nodeId);
    if (!rec) return;
    const frame = JSON.stringify({ type: "node", at: Date.now(), node: liveNode(rec.view) } satisfies LiveMessage);
    for (const ws of viewers) {
      try {
        ws.send(frame);
      } catch {
        // A viewer that went away is cleaned up by its close event.
      }
    }
  }

  /** Pushes a node's supervised processes (status, list version) to every viewer. */
  processesChanged(nodeId: string, live: { configVersion: number; supervision: SupervisionStatus | null }): void {
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (!viewers.length) return;
    const frame = JSON.stringify({ type: "processes", at: Date.now(), nodeId, ...live } satisfies LiveMessage);
    for (const ws of viewers) {
      try {
        ws.send(frame);
      } catch {
        // A viewer that went away is cleaned up by its close event.
      }
    }
  }

  closed(ws: WebSocket, code: number, reason: string): void {
    closeSocket(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }
}
