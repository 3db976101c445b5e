import { z } from "zod";
import { ActivityKind, ActivityLevel } from "../api.ts";
import { Label, NodeId } from "../identifiers.ts";

/**
 * Tools the hub answers itself, from the site's own records, without asking any machine. The catalog names the
 * handler; the Conversation object implements one function per name, so a handler missing there fails the build.
 */

export const SiteLogsInput = z.strictObject({
  machine: NodeId.optional().describe("Only entries about this machine (its id)."),
  level: ActivityLevel.optional().describe("Only entries at this level or more severe: debug < info < warn < error."),
  kind: ActivityKind.optional().describe("Only entries of this kind, e.g. node (machines connecting and dropping) or directive (actions run and how they ended)."),
  sinceMinutes: z.number().int().min(1).max(43_200).optional().describe("Only entries from the last this many minutes."),
  limit: z.number().int().min(1).max(200).default(50).describe("At most this many entries, newest first."),
});

export const ListMachinesInput = z.strictObject({
  status: z.enum(["online", "offline", "all"]).default("all").describe("online: connected now; offline: registered but not connected."),
  group: Label.optional().describe("Only machines of this group."),
});

/** Every hub handler with the input it receives (already parsed with this schema). */
export const HUB_TOOL_INPUTS = {
  site_logs: SiteLogsInput,
  list_machines: ListMachinesInput,
} as const;

export type HubToolHandler = keyof typeof HUB_TOOL_INPUTS;
export type HubToolInput<H extends HubToolHandler> = z.output<(typeof HUB_TOOL_INPUTS)[H]>;
