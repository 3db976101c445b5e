import * as z from "zod";
import { RoostProgress } from "../../protocol/roost-progress.ts";
import { ChunkHash } from "../../protocol/roost-manifest.ts";
import { ActionError } from "./action-error.ts";

/**
 * What a file action may ask of the agent while it runs: the few things the action user must not do itself. A roost
 * deployment downloads with the node's token (which never reaches the action user) and runs its `after` command in
 * the directive's tracked set of processes; its files it writes itself. The agent decides what each request means
 * for the directive at hand (which manifest, which chunks it may fetch, where `after` runs), so a request names no
 * path, URL or command.
 */
export const HelpRequest = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("manifest") }),
  z.object({ kind: z.literal("chunk"), hash: ChunkHash }),
  z.object({ kind: z.literal("after") }),
]);
export type HelpRequest = z.infer<typeof HelpRequest>;

export interface AgentHelp {
  /** The bytes asked for (a manifest, a chunk), or null for a request that answers none (`after`). */
  ask(request: HelpRequest, signal: AbortSignal): Promise<Uint8Array | null>;
  /** How far the action has come, for the hub. */
  progress(progress: RoostProgress): void;
}

/** For actions the agent has nothing to give. */
export const NO_HELP: AgentHelp = {
  ask: async (request) => {
    throw new ActionError("invalid_params", `this action may not ask the agent for ${request.kind}`);
  },
  progress: () => undefined,
};

/** Progress goes to the hub at most this often, besides every change of phase and the end of one. */
const PROGRESS_EVERY_MS = 250;

export function throttledProgress(report: (p: RoostProgress) => void): (p: RoostProgress) => void {
  let last = 0;
  let phase = "";
  return (p) => {
    const now = Date.now();
    if (p.phase === phase && now - last < PROGRESS_EVERY_MS && p.bytesDone < p.bytesTotal) return;
    phase = p.phase;
    last = now;
    report(p);
  };
}
