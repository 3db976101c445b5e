import { lstatSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as z from "zod";
import { Label, NodeId } from "../../protocol/identifiers.ts";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { InstallError } from "./install-error.ts";

/** `install.json` in the prefix: what the install is and what it created outside the prefix. */
export const InstallManifest = z
  .object({
    format: z.literal(1),
    nodeId: NodeId,
    endpoint: z.string().url(),
    tier: CapabilityTier,
    name: Label.optional(),
    group: Label.optional(),
    sandbox: z.string().startsWith("/"),
    /** The agent version installed last. */
    version: z.string().min(1),
    /** The Node.js binary the service and bin/cortex run the bundle with. */
    node: z.string().startsWith("/"),
    /** The uid that owns the install and runs the agent: root, or whoever installed without a service. */
    owner: z.number().int().nonnegative(),
    /** Who actions run as when the agent switches users; `created` if this installer made the account. */
    actionUser: z.object({ name: z.string().min(1), created: z.boolean() }).nullable(),
    /** The sudoers drop-in written for tier sudo. */
    sudoers: z.string().startsWith("/").nullable(),
    /** The systemd unit installed, by name and file. */
    service: z.object({ name: z.string().endsWith(".service"), file: z.string().startsWith("/") }).nullable(),
    installedAt: z.number().int(),
    upgradedAt: z.number().int().nullable(),
  })
  .strict();
export type InstallManifest = z.infer<typeof InstallManifest>;

/** The manifest at `path`, or null when there is none; one another user could have written is refused. */
export function readManifest(path: string, uid: number): InstallManifest | null {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (!stat.isFile() || stat.uid !== uid || (stat.mode & 0o022) !== 0) {
    throw new InstallError(`refusing to trust ${path}: it must be a regular file owned by uid ${uid} that nobody else may write`);
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new InstallError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = InstallManifest.safeParse(json);
  if (!parsed.success) throw new InstallError(`${path} does not describe a Cortex install: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Written whole and renamed into place, so an install cut short leaves the previous manifest, never half of one. */
export function writeManifest(path: string, manifest: InstallManifest): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(InstallManifest.parse(manifest), null, 2)}\n`, { mode: 0o644 });
  renameSync(temporary, path);
}
