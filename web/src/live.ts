import { batch, signal, type Signal } from "@preact/signals";
import type { ActivityEntry } from "../../protocol/api.ts";
import { LiveCloseCode } from "../../protocol/close-codes.ts";
import type { LiveMessage, LiveNode } from "../../protocol/live-messages.ts";
import { LIVE_KEEPALIVE_MS, PING_FRAME } from "../../protocol/limits.ts";
import { loadMe } from "./session.ts";
import { sitePaths } from "./paths.ts";

/**
 * The site's nodes as the hub pushes them: one signal per node, so heartbeats redraw only their nodes' rows, and
 * a sorted list of ids that changes only when a node appears. One socket at a time, for the site on screen;
 * it reconnects with backoff and gets a fresh snapshot each time.
 */
export type LiveState = "connecting" | "open" | "retrying";

export const liveState = signal<LiveState>("connecting");
export const nodeIds = signal<string[]>([]);
const nodes = new Map<string, Signal<LiveNode>>();

/** A node's signal; reading it subscribes to the id list too, so a node that arrives later is picked up. */
export function nodeSignal(id: string): Signal<LiveNode> | undefined {
  void nodeIds.value;
  return nodes.get(id);
}

/** A node's name for display: what people call it, its id only when the hub does not know it (any more). */
export function nameOf(id: string): string {
  return nodeSignal(id)?.value.name ?? id;
}

export function allNodes(): LiveNode[] {
  return nodeIds.value.map((id) => nodes.get(id)!.value);
}

const MAX_RETRY_MS = 30_000;
let current: { site: string; ws: WebSocket | null; keepalive: number; retry: number; attempts: number } | null = null;

function sortIds(): void {
  nodeIds.value = [...nodes.keys()].sort((a, b) => {
    const na = nodes.get(a)!.value.name;
    const nb = nodes.get(b)!.value.name;
    return na.localeCompare(nb) || a.localeCompare(b);
  });
}

/** Listeners of the messages that are not about a node's row, so a page hears only what it asked for. */
type ActivityListener = (entry: ActivityEntry) => void;
type ProcessesMessage = Extract<LiveMessage, { type: "processes" }>;
type ProcessesListener = (msg: ProcessesMessage) => void;
const activityListeners = new Set<ActivityListener>();
const processesListeners = new Set<ProcessesListener>();

/** Hears every activity entry the hub pushes (new, or updated in place) for the site on screen; returns the unsubscribe. */
export function onActivity(listener: ActivityListener): () => void {
  activityListeners.add(listener);
  return () => activityListeners.delete(listener);
}

/** Hears every change of a node's supervised processes the hub pushes; returns the unsubscribe. */
export function onProcesses(listener: ProcessesListener): () => void {
  processesListeners.add(listener);
  return () => processesListeners.delete(listener);
}

function apply(msg: LiveMessage): void {
  if (msg.type === "activity") {
    for (const listener of activityListeners) listener(msg.entry);
    return;
  }
  if (msg.type === "processes") {
    for (const listener of processesListeners) listener(msg);
    return;
  }
  batch(() => {
    if (msg.type === "snapshot") {
      nodes.clear();
      for (const n of msg.nodes) nodes.set(n.id, signal(n));
      sortIds();
      return;
    }
    if (msg.type === "beats") {
      // A node the list does not know yet arrives whole in a "node" message; a beat only updates a row.
      for (const beat of msg.beats) {
        const existing = nodes.get(beat.id);
        if (existing) existing.value = { ...existing.value, lastHeartbeatAt: beat.lastHeartbeatAt, ...(beat.metrics ? { metrics: beat.metrics } : {}) };
      }
      return;
    }
    const existing = nodes.get(msg.node.id);
    if (existing) {
      const renamed = existing.value.name !== msg.node.name;
      existing.value = msg.node;
      if (renamed) sortIds();
    } else {
      nodes.set(msg.node.id, signal(msg.node));
      sortIds();
    }
  });
}

function open(site: string): void {
  const state = current;
  if (!state || state.site !== site) return;
  liveState.value = state.attempts === 0 ? "connecting" : "retrying";
  const url = new URL(sitePaths(site).live, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  state.ws = ws;
  ws.addEventListener("open", () => {
    state.keepalive = window.setInterval(() => ws.readyState === WebSocket.OPEN && ws.send(PING_FRAME), LIVE_KEEPALIVE_MS);
  });
  ws.addEventListener("message", (e) => {
    if (typeof e.data !== "string" || !e.data.startsWith("{")) return;
    const msg = JSON.parse(e.data) as LiveMessage;
    apply(msg);
    // "live" means the snapshot is in, not merely that the socket opened.
    if (msg.type === "snapshot") {
      state.attempts = 0;
      liveState.value = "open";
    }
  });
  ws.addEventListener("close", (e) => {
    window.clearInterval(state.keepalive);
    if (current !== state) return;
    state.ws = null;
    state.attempts += 1;
    liveState.value = "retrying";
    // The hub closed it because our access ended or changed: ask who we are now (signed out goes to sign-in).
    // A refused upgrade looks like any other close from here; asking who we are now and then finds an expired session.
    const accessEnded = e.code === LiveCloseCode.SIGNED_OUT || e.code === LiveCloseCode.ACCESS_CHANGED;
    if (accessEnded || state.attempts % 3 === 0) void loadMe().catch(() => undefined);
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.min(state.attempts - 1, 5)) * (0.5 + Math.random() / 2);
    state.retry = window.setTimeout(() => open(site), delay);
  });
}

/** Watches `site` (closing the previous site's socket); null stops watching. */
export function watchSite(site: string | null): void {
  if (current?.site === site) return;
  if (current) {
    window.clearTimeout(current.retry);
    window.clearInterval(current.keepalive);
    current.ws?.close(1000, "site changed");
  }
  batch(() => {
    nodes.clear();
    nodeIds.value = [];
  });
  current = site ? { site, ws: null, keepalive: 0, retry: 0, attempts: 0 } : null;
  if (site) open(site);
}
