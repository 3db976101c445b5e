import { randomBytes } from "node:crypto";
import type { ActionParams, ResultData } from "../../protocol/directives.ts";
import type { RoostPhase, RoostProgress } from "../../protocol/roost-progress.ts";
import { chunkSizes, RoostManifest } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import type { PathPolicy } from "../sandbox/path-policy.ts";
import { listIn, mkdirIn, openSubdir, removeIn, renameIn, replaceFileIn } from "../sandbox/verified-dir.ts";
import { sha256Hex } from "./chunk-hash.ts";
import { ChunkSupply, manifestName, readKeptManifest, type ChunkSource } from "./chunk-supply.ts";
import { assemble, currentFolder, freshFolderName, requireReplaceableCurrent, switchCurrent } from "./deploy-files.ts";
import { CURRENT, DeployFolders, STAGING_PREFIX } from "./deploy-layout.ts";
import { lockFolder } from "./deploy-lock.ts";
import { readDeployState, writeDeployState, type DeployState, type KeptVersion } from "./deploy-state.ts";
import { eachLimited } from "./each-limited.ts";
import { verifyFolder } from "./verify-folder.ts";

/** Chunks downloaded at the same time. */
const DOWNLOAD_CONCURRENCY = 4;

export type RoostRequest = ActionParams<"roost.deploy">;
export type RoostOutcome = Extract<ResultData, { kind: "roost" }>;

/**
 * What a deployment needs from the agent around it. This module does all of a deployment's file work and nothing
 * else: no process is started here (the `after` command comes in as a function), no socket is used (chunks come
 * from `source`), so it runs where the agent runs file actions: in the action worker, as the action user.
 */
export interface RoostDeps {
  /** Null for a switch to a version already on the machine: nothing may be downloaded then. */
  source: ChunkSource | null;
  progress(progress: RoostProgress): void;
  /** A line of the directive's output. */
  say(line: string): void;
  /** Runs the deployment's `after` command in the new `current` folder (the agent knows where); throws when it fails. */
  after: (() => Promise<void>) | null;
  signal: AbortSignal;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

class Progress {
  private current: RoostProgress = { phase: "manifest", bytesDone: 0, bytesTotal: 0, chunksDone: 0, chunksTotal: 0 };

  constructor(private readonly report: (p: RoostProgress) => void) {}

  phase(phase: RoostPhase, bytesTotal = 0, chunksTotal = 0): void {
    this.current = { phase, bytesDone: 0, bytesTotal, chunksDone: 0, chunksTotal };
    this.report({ ...this.current });
  }

  step(bytes: number): void {
    this.current.bytesDone += bytes;
    this.current.chunksDone += 1;
    this.report({ ...this.current });
  }
}

/**
 * Names a crash can leave behind, exactly as roost makes them (verified-dir.ts, deploy-files.ts): a temporary file of
 * an atomic replace, or a link `current` was about to become. The deployment's folder may hold other people's files,
 * and `.uploads.tmp` or `.current-backup` is not roost's to remove.
 */
const LEFTOVER = new RegExp(`^(?:\\..+\\.[0-9a-f]{12}\\.tmp|\\.${CURRENT}-[0-9a-f]{12})$`);

function isLeftover(name: string): boolean {
  return LEFTOVER.test(name);
}

/** Removes what an interrupted deployment left: staging folders, temporary files, version folders the state never took in. */
async function tidy(folders: DeployFolders, state: DeployState | null): Promise<void> {
  for (const name of await listIn(folders.meta)) {
    if (name.startsWith(STAGING_PREFIX) || isLeftover(name)) await removeIn(folders.meta, name);
  }
  for (const name of await listIn(folders.manifests)) if (isLeftover(name)) await removeIn(folders.manifests, name);
  for (const name of await listIn(folders.root)) if (isLeftover(name)) await removeIn(folders.root, name);
  const known = new Set(state?.kept.map((k) => k.folder) ?? []);
  const live = await currentFolder(folders.root);
  for (const name of await listIn(folders.versions)) {
    if (!known.has(name) && name !== live) await removeIn(folders.versions, name);
  }
}

/** Drops the oldest earlier versions beyond `keep`; the current one always stays. */
function split(state: DeployState, keep: number): { kept: KeptVersion[]; dropped: KeptVersion[] } {
  const earlier = state.kept.filter((k) => k.folder !== state.current).sort((a, b) => b.deployedAt - a.deployedAt);
  const dropped = earlier.slice(keep);
  return { kept: state.kept.filter((k) => !dropped.includes(k)), dropped };
}

function versionOf(state: DeployState | null, folder: string | null): number | null {
  return state?.kept.find((k) => k.folder === folder)?.version ?? null;
}

function outcome(
  req: RoostRequest,
  folder: string,
  previousVersion: number | null,
  counts: Pick<RoostOutcome, "downloadedBytes" | "downloadedChunks" | "reusedChunks">,
): RoostOutcome {
  return { kind: "roost", roost: req.roost, version: req.version, folder, previousVersion, ...counts };
}

async function withLock<T>(path: string, policy: PathPolicy, work: (folders: DeployFolders) => Promise<T>): Promise<T> {
  const folders = await DeployFolders.open(path, policy);
  try {
    const unlock = await lockFolder(folders);
    try {
      return await work(folders);
    } finally {
      await unlock();
    }
  } finally {
    await folders.close();
  }
}

/**
 * Makes `req.version` current under `req.path`: fetch and check the manifest, work out which chunks the machine
 * lacks, download only those (verified, into the cache), assemble the version in a staging folder, move it under
 * versions/, switch `current` in one rename, keep `req.keep` earlier versions, then run the `after` command. Every
 * path is reached through verified descriptors and judged by `policy` (see deploy-layout.ts).
 */
export function deployVersion(req: RoostRequest, policy: PathPolicy, deps: RoostDeps): Promise<RoostOutcome> {
  return withLock(req.path, policy, async (folders) => {
    if (!deps.source) throw new ActionError("invalid_params", "a deployment needs a chunk source");
    const progress = new Progress(deps.progress);
    await requireReplaceableCurrent(folders.root);
    const state = await readDeployState(folders);
    if (state && state.roost !== req.roost) throw new ActionError("conflict", `${req.path} holds roost ${state.roost}, not ${req.roost}`);
    await tidy(folders, state);

    progress.phase("manifest");
    const bytes = await deps.source.manifest(req.roost, req.version, deps.signal);
    if (sha256Hex(bytes) !== req.manifestSha256) throw new ActionError("exec_failed", `the manifest of ${req.roost}@${req.version} is not the one the hub stored`);
    const parsed = RoostManifest.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    if (!parsed.success || parsed.data.roost !== req.roost || parsed.data.version !== req.version) {
      throw new ActionError("exec_failed", `the manifest of ${req.roost}@${req.version} is not valid: ${parsed.error?.issues[0]?.message ?? "another version"}`);
    }
    const manifest = parsed.data;
    deps.say(`${req.roost}@${req.version}: ${manifest.totals.files} files, ${mib(manifest.totals.bytes)}`);

    progress.phase("plan");
    const supply = new ChunkSupply(folders, deps.source, deps.signal);
    const staging = `${STAGING_PREFIX}${randomBytes(6).toString("hex")}`;
    try {
      await supply.indexKept(state?.kept ?? []);
      const missing: [string, number][] = [];
      for (const [hash, size] of chunkSizes(manifest.files)) if (!(await supply.isLocal(hash, size))) missing.push([hash, size]);
      const missingBytes = missing.reduce((sum, [, size]) => sum + size, 0);
      deps.say(`${missing.length} of ${manifest.totals.uniqueChunks} chunks to download (${mib(missingBytes)})`);

      progress.phase("download", missingBytes, missing.length);
      await eachLimited(missing, DOWNLOAD_CONCURRENCY, async ([hash, size]) => {
        await supply.prefetch(hash, size);
        progress.step(size);
      });

      progress.phase("assemble", manifest.totals.bytes, manifest.totals.chunks);
      await mkdirIn(folders.meta, staging, 0o700);
      const stagingDir = await openSubdir(folders.meta, staging);
      try {
        await assemble(stagingDir, manifest.files, supply, (size) => progress.step(size), deps.signal);
      } finally {
        await stagingDir.handle.close();
      }
      const folder = await freshFolderName(folders.versions, req.version);
      // The manifest goes first: a folder is only ever indexed through its manifest.
      await replaceFileIn(folders.manifests, manifestName(folder), bytes, 0o600);
      await renameIn(folders.meta, staging, folders.versions, folder);
      const entry: KeptVersion = { version: req.version, folder, manifestSha256: req.manifestSha256, deployedAt: Date.now() };
      const before = state?.current ?? (await currentFolder(folders.root));
      // Recorded before the switch, so a crash in between leaves a folder the state knows (and later prunes).
      await writeDeployState(folders, { roost: req.roost, current: before, kept: [...(state?.kept ?? []), entry] });

      progress.phase("switch");
      await switchCurrent(folders.root, folder);
      const switched: DeployState = { roost: req.roost, current: folder, kept: [...(state?.kept ?? []), entry] };
      const { kept, dropped } = split(switched, req.keep);
      await writeDeployState(folders, { ...switched, kept });
      for (const old of dropped) {
        await removeIn(folders.versions, old.folder);
        await removeIn(folders.manifests, manifestName(old.folder));
      }
      for (const name of await listIn(folders.cache)) await removeIn(folders.cache, name);
      const previous = versionOf(state, before);
      deps.say(`current: ${previous ?? "none"} -> ${req.version}${dropped.length ? `; removed ${dropped.map((d) => d.version).join(", ")}` : ""}`);

      if (deps.after) {
        progress.phase("after");
        await deps.after();
      }
      progress.phase("done");
      return outcome(req, folders.versionPath(folder), previous, {
        downloadedBytes: supply.downloadedBytes,
        downloadedChunks: supply.downloadedChunks,
        reusedChunks: Math.max(0, manifest.totals.uniqueChunks - supply.downloadedChunks),
      });
    } finally {
      await supply.close();
      await removeIn(folders.meta, staging);
    }
  });
}

/**
 * Switches `current` back (or forward) to a version still kept on the machine, without any download: the kept
 * folder is checked against its manifest first, and a folder changed on the machine is refused, not switched to.
 */
export function activateVersion(req: RoostRequest, policy: PathPolicy, deps: RoostDeps): Promise<RoostOutcome> {
  return withLock(req.path, policy, async (folders) => {
    const progress = new Progress(deps.progress);
    await requireReplaceableCurrent(folders.root);
    const state = await readDeployState(folders);
    if (!state) throw new ActionError("not_found", `no roost has been deployed to ${req.path}`);
    if (state.roost !== req.roost) throw new ActionError("conflict", `${req.path} holds roost ${state.roost}, not ${req.roost}`);
    const candidates = state.kept.filter((k) => k.version === req.version).sort((a, b) => b.deployedAt - a.deployedAt);
    const kept = candidates[0];
    if (!kept) {
      const here = [...new Set(state.kept.map((k) => k.version))].sort((a, b) => a - b).join(", ") || "none";
      throw new ActionError("not_found", `version ${req.version} is not on this machine (kept: ${here}); deploy it instead`);
    }
    if (kept.manifestSha256 !== req.manifestSha256) throw new ActionError("conflict", `the copy of version ${req.version} here is not the hub's version ${req.version}`);
    const manifest = await readKeptManifest(folders, kept);
    if (!manifest) throw new ActionError("exec_failed", `the manifest kept for version ${req.version} is missing or changed; deploy it instead`);

    progress.phase("verify", manifest.totals.bytes, manifest.totals.chunks);
    const problems = await verifyKept(folders, kept.folder, manifest, (size) => progress.step(size), deps.signal);
    if (problems.length) {
      throw new ActionError("exec_failed", `version ${req.version} on this machine is not intact (${problems.join("; ")}); deploy it instead to repair it`);
    }
    progress.phase("switch");
    const previous = versionOf(state, state.current);
    await switchCurrent(folders.root, kept.folder);
    await writeDeployState(folders, { ...state, current: kept.folder });
    deps.say(`current: ${previous ?? "none"} -> ${req.version} (no download)`);
    if (deps.after) {
      progress.phase("after");
      await deps.after();
    }
    progress.phase("done");
    return outcome(req, folders.versionPath(kept.folder), previous, { downloadedBytes: 0, downloadedChunks: 0, reusedChunks: 0 });
  });
}

async function verifyKept(folders: DeployFolders, folder: string, manifest: RoostManifest, onChunk: (bytes: number) => void, signal: AbortSignal): Promise<string[]> {
  let dir;
  try {
    dir = await openSubdir(folders.versions, folder);
  } catch (err) {
    if (err instanceof ActionError) return [`${folders.versionPath(folder)}: ${err.message}`];
    throw err;
  }
  try {
    return await verifyFolder(dir, manifest.files, onChunk, signal);
  } finally {
    await dir.handle.close();
  }
}
