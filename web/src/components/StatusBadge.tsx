import type { NodeStatus } from "../../../protocol/api.ts";
import type { DirectiveStatus } from "../../../protocol/directives.ts";
import type { LiveNode } from "../../../protocol/live-messages.ts";

const NODE_TONE: Record<NodeStatus, string> = {
  connected: "ok",
  connecting: "pending",
  disconnected: "off",
  error: "bad",
  deregistered: "gone",
};

export const DIRECTIVE_TONE: Record<DirectiveStatus, string> = {
  queued: "pending",
  sent: "pending",
  running: "pending",
  done: "ok",
  failed: "bad",
  cancelled: "off",
  timed_out: "bad",
  lost: "bad",
  refused: "bad",
};

export const WAITING = "waiting for first connection";

/** A node that was registered and has never connected is waiting for its agent, not "disconnected". */
export function neverConnected(node: Pick<LiveNode, "status" | "connectedAt" | "lastHeartbeatAt">): boolean {
  return node.status === "disconnected" && node.connectedAt === null && node.lastHeartbeatAt === null;
}

export function nodeStatusLabel(node: Pick<LiveNode, "status" | "connectedAt" | "lastHeartbeatAt">): string {
  return neverConnected(node) ? WAITING : node.status;
}

export function NodeStatusBadge({ node }: { node: Pick<LiveNode, "status" | "connectedAt" | "lastHeartbeatAt"> }) {
  const waiting = neverConnected(node);
  return <span class={`badge tone-${waiting ? "pending" : NODE_TONE[node.status]}`}>{waiting ? WAITING : node.status}</span>;
}

export function DirectiveStatusBadge({ status }: { status: DirectiveStatus }) {
  return <span class={`badge tone-${DIRECTIVE_TONE[status]}`}>{status.replace("_", " ")}</span>;
}
