import { join } from "node:path";
import * as z from "zod";
import { ChunkHash, RoostName, VersionNumber } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import { readFileIn, replaceFileIn } from "../sandbox/verified-dir.ts";
import { STATE_FILE, type DeployFolders } from "./deploy-layout.ts";

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
  current: KeptVersion.shape.folder.nullable(),
  kept: z.array(KeptVersion),
});
export type DeployState = z.infer<typeof DeployState>;

export async function readDeployState(folders: DeployFolders): Promise<DeployState | null> {
  const bytes = await readFileIn(folders.meta, STATE_FILE);
  if (bytes === null) return null;
  const parsed = DeployState.safeParse(safeJson(bytes.toString("utf8")));
  if (!parsed.success) throw new ActionError("conflict", `${join(folders.meta.real, STATE_FILE)} is not a roost state file; move it away or deploy elsewhere`);
  return parsed.data;
}

/** Written to a temporary file and renamed over the old one, so a crash leaves the old state or the new, never half. */
export async function writeDeployState(folders: DeployFolders, state: DeployState): Promise<void> {
  await replaceFileIn(folders.meta, STATE_FILE, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
