import * as z from "zod";
import { FanOutTarget } from "./api.ts";
import { AbsolutePath } from "./paths.ts";
import { DEFAULT_BASH_TIMEOUT_MS, MAX_BASH_TIMEOUT_MS } from "./limits.ts";
import { ChunkHash, ListedEntry, ManifestEntry, ManifestFiles, MAX_CHUNK_QUERY, RoostName, VersionNumber } from "./roost-manifest.ts";
import { RoostProgress } from "./roost-progress.ts";

export { RoostPhase, RoostProgress } from "./roost-progress.ts";

/** Bodies of the roost API (`/api/sites/:site/roost...`): pushing versions, reading them, deploying them. */

export const MissingChunksRequest = z.object({ hashes: z.array(ChunkHash).min(1).max(MAX_CHUNK_QUERY) });
export type MissingChunksRequest = z.infer<typeof MissingChunksRequest>;

export const MissingChunksResponse = z.object({ missing: z.array(ChunkHash) });
export type MissingChunksResponse = z.infer<typeof MissingChunksResponse>;

export const ChunkUploadResponse = z.object({
  hash: ChunkHash,
  size: z.number().int().nonnegative(),
  /** False when the site already had this chunk: nothing was written. */
  stored: z.boolean(),
});
export type ChunkUploadResponse = z.infer<typeof ChunkUploadResponse>;

export const CommitRequest = z.object({
  message: z.string().max(2_000).default(""),
  files: ManifestFiles,
});
export type CommitRequest = z.input<typeof CommitRequest>;

export const VersionView = z.object({
  roost: RoostName,
  version: VersionNumber,
  createdAt: z.number(),
  createdBy: z.string(),
  message: z.string(),
  files: z.number().int(),
  bytes: z.number().int(),
  chunks: z.number().int(),
  uniqueChunks: z.number().int(),
  /** Chunks (and their bytes) the site did not have before this push: what the push had to upload. */
  newChunks: z.number().int(),
  newBytes: z.number().int(),
  /** Compared with the previous version (all "added" for the first one). */
  added: z.number().int(),
  changed: z.number().int(),
  removed: z.number().int(),
  manifestSha256: ChunkHash,
});
export type VersionView = z.infer<typeof VersionView>;

export const RoostView = z.object({
  name: RoostName,
  createdAt: z.number(),
  createdBy: z.string(),
  updatedAt: z.number(),
  latestVersion: VersionNumber.nullable(),
  versions: z.number().int(),
});
export type RoostView = z.infer<typeof RoostView>;

export const RoostListResponse = z.object({ roosts: z.array(RoostView) });
export const VersionListResponse = z.object({ versions: z.array(VersionView) });

/** One version with its entries, as `cortex roost show` prints them. */
export const VersionDetail = z.object({ version: VersionView, files: z.array(ListedEntry) });
export type VersionDetail = z.infer<typeof VersionDetail>;

const DiffLine = z.object({ path: z.string(), type: z.enum(["file", "dir", "symlink"]), size: z.number().int() });
export const RoostDiffResponse = z.object({
  roost: RoostName,
  from: VersionNumber,
  to: VersionNumber,
  added: z.array(DiffLine),
  removed: z.array(DiffLine),
  changed: z.array(DiffLine.extend({ before: DiffLine })),
});
export type RoostDiffResponse = z.infer<typeof RoostDiffResponse>;

export const DiffQuery = z.object({ from: z.coerce.number().pipe(VersionNumber), to: z.coerce.number().pipe(VersionNumber) });

// ---- deployments ----

const Percent = z.number().min(0).max(100);

/** The longest one machine's whole deployment may take: a day. */
export const MAX_DEPLOYMENT_TIMEOUT_MS = 24 * 3600_000;

/** Deploying a version, or rolling back to one: the same targets and the same canary rules. */
export const DeploymentRequest = z.object({
  version: VersionNumber,
  target: FanOutTarget,
  /** The folder on each machine that holds `current`, `versions/` and `.roost/`; `{node}` stands for the machine's id. */
  path: AbsolutePath,
  /** Share of the targets that go first (at least one machine when above 0); 0 sends to every target at once. */
  canaryPercent: Percent.default(10),
  /** The rest follow on their own once at least this share of the canary machines succeeded. */
  promoteAtPercent: Percent.default(90),
  /** The deployment stops, starting no further machine, once more than this share of the machines tried failed. */
  abortAbovePercent: Percent.default(25),
  concurrency: z.number().int().min(1).max(10_000).default(50),
  /** Earlier versions kept on each machine besides the current one, for rollbacks without a download. */
  keep: z.number().int().min(0).max(50).default(3),
  /** A command run in the new `current` folder once it is switched in, under the node's tier like any shell command. */
  after: z.string().min(1).max(64 * 1024).optional(),
  afterTimeoutMs: z.number().int().positive().max(MAX_BASH_TIMEOUT_MS).default(DEFAULT_BASH_TIMEOUT_MS),
  /** Machines offline now get the version when they connect again (unless a later deployment replaced it). */
  catchUp: z.boolean().default(false),
  /** Limit for one machine's whole deployment (download, assembly, switch, command). */
  timeoutMs: z.number().int().positive().max(MAX_DEPLOYMENT_TIMEOUT_MS).default(3600_000),
});
export type DeploymentRequest = z.input<typeof DeploymentRequest>;
export type DeploymentSpec = z.output<typeof DeploymentRequest>;

/** In a deployment's path, replaced by each machine's id (machines sharing a disk, or several agents on one host). */
export const NODE_IN_PATH = "{node}";

export const DeploymentKind = z.enum(["deploy", "rollback"]);
export type DeploymentKind = z.infer<typeof DeploymentKind>;

/**
 * canary: the first machines are at work; held: the canary ended below the promotion threshold and waits for a
 * person; rolling: the rest are going; completed: no machine left to start (some may wait to reconnect);
 * aborted: stopped by a person or by the failure threshold; no further machine starts.
 */
export const DeploymentState = z.enum(["canary", "held", "rolling", "completed", "aborted"]);
export type DeploymentState = z.infer<typeof DeploymentState>;

/**
 * pending: not started; waiting: offline, will start when the machine connects; running; done; failed;
 * skipped: never started (deployment stopped, machine offline without catch-up, or replaced by a later deployment).
 */
export const TargetStatus = z.enum(["pending", "waiting", "running", "done", "failed", "skipped"]);
export type TargetStatus = z.infer<typeof TargetStatus>;


export const TargetView = z.object({
  nodeId: z.string(),
  wave: z.enum(["canary", "rest"]),
  status: TargetStatus,
  directiveId: z.string().nullable(),
  progress: RoostProgress.nullable(),
  error: z.string().nullable(),
  startedAt: z.number().nullable(),
  endedAt: z.number().nullable(),
});
export type TargetView = z.infer<typeof TargetView>;

export const DeploymentCounts = z.object({
  total: z.number().int(),
  pending: z.number().int(),
  waiting: z.number().int(),
  running: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  canary: z.number().int(),
  canaryDone: z.number().int(),
  canaryFailed: z.number().int(),
});
export type DeploymentCounts = z.infer<typeof DeploymentCounts>;

export const DeploymentView = z.object({
  id: z.string(),
  kind: DeploymentKind,
  roost: RoostName,
  version: VersionNumber,
  path: z.string(),
  canaryPercent: z.number(),
  promoteAtPercent: z.number(),
  abortAbovePercent: z.number(),
  concurrency: z.number().int(),
  keep: z.number().int(),
  after: z.string().nullable(),
  catchUp: z.boolean(),
  state: DeploymentState,
  /** Why it is held or aborted, in words. */
  reason: z.string().nullable(),
  requestedBy: z.string(),
  createdAt: z.number(),
  updatedAt: z.number(),
  counts: DeploymentCounts,
  /** Present on a single deployment's view, absent in lists. */
  targets: z.array(TargetView).optional(),
});
export type DeploymentView = z.infer<typeof DeploymentView>;

export const DeploymentListQuery = z.object({
  roost: RoostName.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(20),
});
export type DeploymentListQuery = z.output<typeof DeploymentListQuery>;

export const DeploymentListResponse = z.object({ deployments: z.array(DeploymentView) });

/** Server-sent events of a deployment: the whole view first, then changes, then the view as it ended. */
export const DeploymentEvent = z.discriminatedUnion("event", [
  z.object({ event: z.literal("snapshot"), deployment: DeploymentView }),
  z.object({ event: z.literal("target"), deploymentId: z.string(), target: TargetView }),
  z.object({ event: z.literal("state"), deployment: DeploymentView.omit({ targets: true }) }),
  z.object({ event: z.literal("end"), deployment: DeploymentView }),
]);
export type DeploymentEvent = z.infer<typeof DeploymentEvent>;
