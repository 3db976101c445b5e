import type { DirectiveMessage, NodeToHubMessage } from "../../protocol/node-messages.ts";

/** Sends one message to the hub; false when there is no registered connection to send it on. */
export type SendToHub = (message: NodeToHubMessage) => boolean;

/**
 * What the connection needs from whatever runs directives. The connection owns the socket; the handler owns the
 * work, so a dropped connection never kills a running directive and the handler never touches the socket.
 */
export interface DirectiveHandler {
  /** Start a directive, or acknowledge a repeat of one already seen without running it again. */
  run(directive: DirectiveMessage, send: SendToHub): void;
  /** Stop an in-flight directive and its whole process tree. Unknown ids are ignored. */
  cancel(directiveId: string): void;
  /** After each successful register: re-send what must reach the hub exactly once (finished long runs). */
  connected(send: SendToHub): void;
  /** The hub has recorded a finished long run; forget it. */
  runCompleteAcknowledged(runId: string): void;
  /** Directives running now, reported in heartbeats. */
  activeCount(): number;
  /** Stop everything in flight; the agent is shutting down. */
  shutdown(): Promise<void>;
}
