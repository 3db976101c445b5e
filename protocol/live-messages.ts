import { z } from "zod";
import { ActivityEntry, NodeView } from "./api.ts";

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
   * An activity entry was added, or changed in place (a directive's entry when it ends). Each viewer gets only the
   * entries its reader may see in `GET /activity`.
   */
  z.object({ type: z.literal("activity"), at: z.number(), entry: ActivityEntry }),
]);
export type LiveMessage = z.infer<typeof LiveMessage>;
