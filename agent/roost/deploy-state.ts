import { readFile, rename, writeFile } from "node:fs/promises";
import { z } from "zod";
import { ChunkHash, RoostName, VersionNumber } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import type { DeployLayout } from "./deploy-layout.ts";

/** A version folder kept on the machine. */
export const KeptVersion = z.object({
  version: VersionNumber,
  /** Folder name under versions/ (the version number, with a suffix when the same version was deployed again). */
  folder: z.string().regex(/^[0-9]+(?:-[0-9a-f]{8})?$/),
  manifestSha256: ChunkHash,
  deployedAt: z.number(),
});
export type KeptVersion = z.infer<typeof KeptVersion>;

export const DeployState = z.object({
  roost: RoostName,
  current: z.string().nullable(),
  kept: z.array(KeptVersion),
});
export type DeployState = z.infer<typeof DeployState>;

export async function readDeployState(layout: DeployLayout): Promise<DeployState | null> {
  let text: string;
  try {
    text = await readFile(layout.state, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const parsed = DeployState.safeParse(safeJson(text));
  if (!parsed.success) throw new ActionError("conflict", `${layout.state} is not a roost state file; move it away or deploy elsewhere`);
  return parsed.data;
}

/** Written to a temporary file and renamed over the old one, so a crash leaves the old state or the new, never half. */
export async function writeDeployState(layout: DeployLayout, state: DeployState): Promise<void> {
  const temp = `${layout.state}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, layout.state);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
