import type { NodeView } from "../../protocol/api.ts";
import type { LiveMessage, LiveNode } from "../../protocol/live-messages.ts";
import type { ActivityReader, StoredActivity } from "./activity-log.ts";
import { activityFor } from "./directive-visibility.ts";
import type { SupervisionStatus } from "../../protocol/processes.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { closeSocket, sendJson } from "./node-socket.ts";

/** Tag of dashboard sockets. Node sockets are tagged with their connection id (a UUID), so the two never meet. */
export const VIEWER_TAG = "viewer";
/** Viewers who may read the site's access events carry this tag too. */
const AUDIT_TAG = "viewer:audit";
/** Viewers confined to reading get agent-written text redacted, as in `GET /activity`. */
const CONFINED_TAG = "viewer:confined";
/** And every viewer who is a person carries the tag of their user id, to get the access events about them. */
const userTag = (userId: string) => `viewer:user:${userId}`;

/** The Worker forwards an authorised dashboard upgrade to the object under this path; agents never reach it. */
export const VIEWER_PATH = "/viewer";
const READER_AUDIT_HEADER = "X-Cortex-Reader-Audit";
const READER_USER_HEADER = "X-Cortex-Reader-User";
const READER_CONFINED_HEADER = "X-Cortex-Reader-Confined";

/** The request the Worker sends to open a viewer, saying who reads (only the Worker can reach the object). */
export function viewerRequest(base: string, reader: ActivityReader): Request {
  const headers: Record<string, string> = {
    Upgrade: "websocket",
    [READER_AUDIT_HEADER]: reader.audit ? "1" : "0",
    [READER_CONFINED_HEADER]: reader.confined ? "1" : "0",
  };
  if (reader.userId) headers[READER_USER_HEADER] = reader.userId;
  return new Request(new URL(VIEWER_PATH, base), { headers });
}

export function readerOf(request: Request): ActivityReader {
  return {
    audit: request.headers.get(READER_AUDIT_HEADER) === "1",
    userId: request.headers.get(READER_USER_HEADER),
    // Anything but an explicit "0" confines: a request that says nothing gets the redacted view.
    confined: request.headers.get(READER_CONFINED_HEADER) !== "0",
  };
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
 * change of a node's row, and each activity entry (new or updated) their reader may see. Viewers only listen; a
 * "ping" they send is answered by the runtime without waking the object, and anything else they send is ignored.
 */
export class LiveViewers {
  constructor(
    private readonly ctx: DurableObjectState,
    private readonly registry: NodeRegistry,
  ) {}

  accept(reader: ActivityReader): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const tags = [VIEWER_TAG];
    if (reader.audit) tags.push(AUDIT_TAG);
    if (reader.confined) tags.push(CONFINED_TAG);
    if (reader.userId) tags.push(userTag(reader.userId));
    this.ctx.acceptWebSocket(server, tags);
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
    broadcast(viewers, { type: "node", at: Date.now(), node: liveNode(rec.view) });
  }

  /** Pushes an activity entry to the viewers who may read it (the rule of `mayRead`, by socket tags). */
  activityChanged(stored: StoredActivity): void {
    let viewers: WebSocket[];
    if (stored.audience === "site") {
      viewers = this.ctx.getWebSockets(VIEWER_TAG);
    } else {
      const readers = new Set(this.ctx.getWebSockets(AUDIT_TAG));
      if (stored.subject) for (const ws of this.ctx.getWebSockets(userTag(stored.subject))) readers.add(ws);
      viewers = [...readers];
    }
    if (!viewers.length) return;
    const at = Date.now();
    const confined = viewers.filter((ws) => this.ctx.getTags(ws).includes(CONFINED_TAG));
    const whole = viewers.filter((ws) => !confined.includes(ws));
    if (whole.length) broadcast(whole, { type: "activity", at, entry: stored.entry });
    if (confined.length) broadcast(confined, { type: "activity", at, entry: activityFor(stored.entry, { confined: true, userId: null }) });
  }

  /** Closes a person's viewers (their access changed); their dashboard reconnects with what they may now see. */
  closeFor(userId: string, why: string): void {
    for (const ws of this.ctx.getWebSockets(userTag(userId))) closeSocket(ws, 1008, why);
  }

  /** Pushes a node's supervised processes (status, list version) to every viewer. */
  processesChanged(nodeId: string, live: { configVersion: number; supervision: SupervisionStatus | null }): void {
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (!viewers.length) return;
    broadcast(viewers, { type: "processes", at: Date.now(), nodeId, ...live });
  }

  closed(ws: WebSocket, code: number, reason: string): void {
    closeSocket(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
  }
}

function broadcast(viewers: WebSocket[], message: LiveMessage): void {
  const frame = JSON.stringify(message);
  for (const ws of viewers) {
    try {
      ws.send(frame);
    } catch {
      // A viewer that went away is cleaned up by its close event.
    }
  }
}
