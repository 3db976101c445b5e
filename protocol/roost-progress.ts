import * as z from "zod";

/**
 * How far a roost deployment on one machine has come. Apart from the rest of the roost API so the agent, which
 * reports it, does not build every API body schema to do so.
 */
export const RoostPhase = z.enum(["manifest", "plan", "download", "assemble", "verify", "switch", "after", "done"]);
export type RoostPhase = z.infer<typeof RoostPhase>;

/** Where one machine's deployment is; the agent reports it while it works. */
export const RoostProgress = z.object({
  phase: RoostPhase,
  bytesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
  chunksDone: z.number().int().nonnegative(),
  chunksTotal: z.number().int().nonnegative(),
});
export type RoostProgress = z.infer<typeof RoostProgress>;
