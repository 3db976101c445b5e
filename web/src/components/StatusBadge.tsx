import type { NodeStatus } from "../../../protocol/api.ts";
import type { DirectiveStatus } from "../../../protocol/directives.ts";

const NODE_TONE: Record<NodeStatus, string> = {
  connected: "ok",
  connecting: "pending",
  disconnected: "off",
  error: "bad",
  deregistered: "gone",
};

const DIRECTIVE_TONE: Record<DirectiveStatus, string> = {
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

export function NodeStatusBadge({ status }: { status: NodeStatus }) {
  return <span class={`badge tone-${NODE_TONE[status]}`}>{status}</span>;
}

export function DirectiveStatusBadge({ status }: { status: DirectiveStatus }) {
  return <span class={`badge tone-${DIRECTIVE_TONE[status]}`}>{status.replace("_", " ")}</span>;
}
