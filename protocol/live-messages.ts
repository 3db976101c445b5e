import * as z from "zod";
import { ActivityEntry, NodeView } from "./api.ts";
import { Metrics } from "./metrics.ts";
import { SupervisionStatus } from "./processes.ts";

/**
 * Messages the hub pushes to a dashboard's live socket (`GET /api/sites/:site/live`). The browser only listens:
 * it may send the text frame "ping" (answered "pong" by the runtime) to keep idle proxies from dropping it.
 */

/** What the dashboard needs to draw a node row; the token prefix and capability list stay with `GET /nodes/:id`. */
export const LiveNode = NodeView.omit({ tokenPrefix: true, capabilities: true });
export type LiveNode = z.infer<typeof LiveNode>;

export const LiveMessage = z.discriminatedUnion("type", [
  /** Sent once on connect: every node of the site as it is now. */
  z.object({ type: z.literal("snapshot"), at: z.number(), nodes: z.array(LiveNode) }),
  /** A node's row changed (registered, connecting, connected, metrics, disconnected, error, deregistered, rekeyed). */
  z.object({ type: z.literal("node"), at: z.number(), node: LiveNode }),
  /**
   * What heartbeats changed in nodes' rows since the last such message: each node's latest heartbeat time and, when
   * it sent any, its latest metrics (absent: the row's metrics stand). Sent together every `LIVE_BEATS_MS`, so a
   * site of thousands of nodes costs a viewer a few messages a second, not one per heartbeat.
   */
  z.object({
    type: z.literal("beats"),
    at: z.number(),
    beats: z.array(z.object({ id: z.string(), lastHeartbeatAt: z.number(), metrics: Metrics.optional() })),
  }),
  /**
   * An activity entry was added, or changed in place (a directive's entry when it ends). Each viewer gets only the
   * entries its reader may see in `GET /activity`.
   */
  z.object({ type: z.literal("activity"), at: z.number(), entry: ActivityEntry }),
  /**
   * A node's supervised processes changed: their state as its agent last reported it (a heartbeat), with the events
   * since applied (a crash shows at once). Configuration changes are read with `GET /nodes/:id/processes`.
   */
  z.object({ type: z.literal("processes"), at: z.number(), nodeId: z.string(), configVersion: z.number().int().nonnegative(), supervision: SupervisionStatus.nullable() }),
]);
export type LiveMessage = z.infer<typeof LiveMessage>;
export type LiveBeat = Extract<LiveMessage, { type: "beats" }>["beats"][number];

// Kept with the node close codes, in a module without zod, since the dashboard reads it on its first page.
export { LiveCloseCode } from "./close-codes.ts";
