import type { NodeView } from "../../protocol/api.ts";
import type { ApiError } from "../../protocol/api-error.ts";
import { LIVE_BEATS_MS, MAX_VIEWERS_PER_PERSON, MAX_VIEWERS_PER_SITE } from "../../protocol/limits.ts";
import type { LiveBeat, LiveMessage, LiveNode } from "../../protocol/live-messages.ts";
import type { SupervisionStatus } from "../../protocol/processes.ts";
import { ownerTags, userTag, type SocketOwner } from "../shared/user-sockets.ts";
import type { StoredActivity } from "./activity-log.ts";
import { activityFor, supervisionFor } from "./viewer-visibility.ts";
import type { NodeRegistry } from "./node-registry.ts";
import { closeSocket, sendJson } from "./node-socket.ts";

/** Tag of dashboard sockets. Node sockets are tagged with their connection id (a UUID), so the two never meet. */
export const VIEWER_TAG = "viewer";
/** Viewers who may read the site's access events carry this tag too. */
const AUDIT_TAG = "viewer:audit";
/** Viewers confined to reading get agent-written text redacted, as in `GET /activity`. */
const CONFINED_TAG = "viewer:confined";

/** The Worker forwards an authorised dashboard upgrade to the object under this path; agents never reach it. */
export const VIEWER_PATH = "/viewer";

/** What a viewer may read of the activity log, decided by the Worker's `authorize`. */
export interface ViewerRights {
  /** May read the site's access events (sign-ins, keys, roles): the site's admins. */
  audit: boolean;
  /** Confined to the readable paths: agent-written text reaches them redacted. */
  confined: boolean;
}

/**
 * The viewer's owner and rights travel in the forwarded request's query, set by the Worker after authentication.
 * Without `rights` (a socket that only needs its owner, like a conversation's) the reader gets the least.
 */
export function viewerUrl(base: string, owner: SocketOwner | null, rights?: ViewerRights): URL {
  const url = new URL(VIEWER_PATH, base);
  if (owner) {
    url.searchParams.set("user", owner.userId);
    if (owner.sessionId) url.searchParams.set("session", owner.sessionId);
    if (owner.apiKeyId) url.searchParams.set("key", owner.apiKeyId);
  }
  if (rights) {
    url.searchParams.set("audit", rights.audit ? "1" : "0");
    url.searchParams.set("confined", rights.confined ? "1" : "0");
  }
  return url;
}

export function viewerOwner(url: URL): SocketOwner | null {
  const userId = url.searchParams.get("user");
  return userId ? { userId, sessionId: url.searchParams.get("session"), apiKeyId: url.searchParams.get("key") } : null;
}

/** Anything but an explicit grant reads the least: no access events, agent-written text redacted. */
export function viewerRights(url: URL): ViewerRights {
  return { audit: url.searchParams.get("audit") === "1", confined: url.searchParams.get("confined") !== "0" };
}

function liveNode(view: NodeView): LiveNode {
  const { tokenPrefix: _prefix, capabilities: _caps, ...rest } = view;
  return rest;
}

/** What the dashboards show of a node's supervised processes. */
export interface LiveProcesses {
  configVersion: number;
  supervision: SupervisionStatus | null;
}

/**
 * Dashboards watching the site: hibernatable sockets that get every node on connect and then one message per
 * change of a node's row, and each activity entry (new or updated) their reader may see. Viewers only listen; a
 * "ping" they send is answered by the runtime without waking the object, and anything else they send is ignored.
 */
export class LiveViewers {
  /** Heartbeats not yet pushed, the latest per node. */
  private readonly beats = new Map<string, LiveBeat>();
  /** Nodes whose heartbeat reported their processes since the last push, each with how to read what to push then. */
  private readonly reports = new Map<string, () => LiveProcesses>();
  /** The timer that pushes both. */
  private due: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly registry: NodeRegistry,
  ) {}

  /**
   * Accepts a viewer, tagged with who opened it (null for the admin key) so losing access can close it, and with
   * what it may read of the activity log.
   */
  accept(owner: SocketOwner | null, rights: ViewerRights): Response {
    const full = this.full(owner);
    if (full) return Response.json({ error: { code: "too_many_viewers", message: full } } satisfies ApiError, { status: 429 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    const tags = [VIEWER_TAG, ...(owner ? ownerTags(owner) : [])];
    if (rights.audit) tags.push(AUDIT_TAG);
    if (rights.confined) tags.push(CONFINED_TAG);
    this.ctx.acceptWebSocket(server, tags);
    const snapshot: LiveMessage = { type: "snapshot", at: Date.now(), nodes: this.registry.list().map((r) => liveNode(r.view)) };
    sendJson(server, snapshot);
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * Why another viewer may not open, if it may not. Viewers share the object's sockets with the site's agents (a
   * hibernating object holds at most 32,768), so one person, or one read key, opening sockets without end could
   * lock the machines out. The bootstrap admin key (no owner) counts only towards the site's total.
   */
  private full(owner: SocketOwner | null): string | null {
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (viewers.length >= MAX_VIEWERS_PER_SITE) return `the site already has ${viewers.length} live pages open; close some and try again`;
    if (!owner) return null;
    const theirs = this.ctx.getWebSockets(userTag(owner.userId)).filter((ws) => this.ctx.getTags(ws).includes(VIEWER_TAG)).length;
    return theirs >= MAX_VIEWERS_PER_PERSON ? `you already have ${theirs} live pages of this site open; close some and try again` : null;
  }

  /** Pushes a node's current row to every viewer; costs one tag lookup when nobody watches. */
  nodeChanged(nodeId: string): void {
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (!viewers.length) return;
    const rec = this.registry.get(nodeId);
    if (!rec) return;
    // The row read now carries the node's latest heartbeat: one still waiting would only repeat it.
    this.beats.delete(nodeId);
    broadcast(viewers, { type: "node", at: Date.now(), node: liveNode(rec.view) });
  }

  /**
   * A heartbeat changed a node's last heartbeat time and maybe its metrics: kept, the latest per node, and pushed to
   * the viewers with the others within `LIVE_BEATS_MS`, without reading the node's row. Costs one tag lookup when
   * nobody watches. A beat lost to a restart of the object is harmless: the next one, or a viewer's fresh snapshot,
   * carries the same fields.
   */
  heartbeat(beat: LiveBeat): void {
    if (!this.ctx.getWebSockets(VIEWER_TAG).length) return;
    this.beats.set(beat.id, beat);
    this.due ??= setTimeout(() => this.push(), LIVE_BEATS_MS);
  }

  /**
   * A heartbeat reported the node's processes: pushed with the beats, read when they go, at most once per node per
   * `LIVE_BEATS_MS`. A node may send heartbeats as fast as its socket carries them, and a report of 32 processes is
   * tens of kilobytes: pushed at once, each one would go to every dashboard. A person's change is pushed at once.
   */
  processesReported(nodeId: string, live: () => LiveProcesses): void {
    if (!this.ctx.getWebSockets(VIEWER_TAG).length) return;
    this.reports.set(nodeId, live);
    this.due ??= setTimeout(() => this.push(), LIVE_BEATS_MS);
  }

  private push(): void {
    this.due = null;
    const beats = [...this.beats.values()];
    const reports = [...this.reports];
    this.beats.clear();
    this.reports.clear();
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (!viewers.length) return;
    if (beats.length) broadcast(viewers, { type: "beats", at: Date.now(), beats });
    for (const [nodeId, live] of reports) this.processesChanged(nodeId, live());
  }

  /** Pushes an activity entry to the viewers who may read it (the rule of `mayRead`, by socket tags). */
  activityChanged(stored: StoredActivity): void {
    let viewers: WebSocket[];
    if (stored.audience === "site") {
      viewers = this.ctx.getWebSockets(VIEWER_TAG);
    } else {
      const readers = new Set(this.ctx.getWebSockets(AUDIT_TAG));
      // The person an access event is about reads it too: their viewers carry their user tag.
      if (stored.subject) for (const ws of this.ctx.getWebSockets(userTag(stored.subject))) readers.add(ws);
      viewers = [...readers].filter((ws) => this.ctx.getTags(ws).includes(VIEWER_TAG));
    }
    if (!viewers.length) return;
    const at = Date.now();
    const confined = viewers.filter((ws) => this.ctx.getTags(ws).includes(CONFINED_TAG));
    const whole = viewers.filter((ws) => !confined.includes(ws));
    if (whole.length) broadcast(whole, { type: "activity", at, entry: stored.entry });
    if (confined.length) broadcast(confined, { type: "activity", at, entry: activityFor(stored.entry, { confined: true, userId: null }) });
  }

  /** Pushes a node's supervised processes (status, list version) to every viewer, reasons redacted for confined ones. */
  processesChanged(nodeId: string, live: LiveProcesses): void {
    const viewers = this.ctx.getWebSockets(VIEWER_TAG);
    if (!viewers.length) return;
    // What is pushed now is the latest: a report still waiting would only repeat it.
    this.reports.delete(nodeId);
    const at = Date.now();
    const confined = viewers.filter((ws) => this.ctx.getTags(ws).includes(CONFINED_TAG));
    const whole = viewers.filter((ws) => !confined.includes(ws));
    if (whole.length) broadcast(whole, { type: "processes", at, nodeId, ...live });
    if (confined.length) {
      const supervision = live.supervision && supervisionFor(live.supervision, { confined: true });
      broadcast(confined, { type: "processes", at, nodeId, configVersion: live.configVersion, supervision });
    }
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
