import { randomBytes } from "node:crypto";
import { mkdir, readdir, readlink, rename, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import type { ActionParams, ResultData } from "../../protocol/directives.ts";
import type { RoostPhase, RoostProgress } from "../../protocol/roost-api.ts";
import { chunkSizes, RoostManifest } from "../../protocol/roost-manifest.ts";
import { ActionError } from "../actions/action-error.ts";
import { sha256Hex } from "./chunk-hash.ts";
import { ChunkSupply, readKeptManifest, type ChunkSource } from "./chunk-supply.ts";
import { assemble, freshFolderName, removeTree, requireReplaceableCurrent, switchCurrent } from "./deploy-files.ts";
import { DeployLayout } from "./deploy-layout.ts";
import { lockFolder } from "./deploy-lock.ts";
import { readDeployState, writeDeployState, type DeployState, type KeptVersion } from "./deploy-state.ts";
import { verifyFolder } from "./verify-folder.ts";

/** Chunks downloaded at the same time. */
const DOWNLOAD_CONCURRENCY = 4;

export type RoostRequest = ActionParams<"roost.deploy">;
export type RoostOutcome = Extract<ResultData, { kind: "roost" }>;

/**
 * What a deployment needs from the agent around it. This module does all of a deployment's file work and nothing
 * else: no process is started here (the `after` command comes in as a function), no socket is used (chunks come
 * from `source`), so it can run in whatever process and as whatever user the agent gives a file action.
 */
export interface RoostDeps {
  /** Null for a switch to a version already on the machine: nothing may be downloaded then. */
  source: ChunkSource | null;
  progress(progress: RoostProgress): void;
  /** A line of the directive's output. */
  say(line: string): void;
  /** Runs the deployment's `after` command in the new `current` folder; throws when it fails. */
  after: ((cwd: string) => Promise<void>) | null;
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

/** Runs `task` over `items`, `limit` at a time, stopping at the first failure. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function prepare(layout: DeployLayout): Promise<void> {
  await mkdir(layout.root, { recursive: true });
  await mkdir(layout.meta, { recursive: true, mode: 0o700 });
  await mkdir(layout.manifests, { recursive: true, mode: 0o700 });
  await mkdir(layout.cache, { recursive: true, mode: 0o700 });
  await mkdir(layout.versions, { recursive: true, mode: 0o755 });
}

/** The folder `current` points to now, if it points into versions/. */
async function currentFolder(layout: DeployLayout): Promise<string | null> {
  const target = await readlink(layout.current).catch(() => null);
  return target && target.startsWith("versions/") ? basename(target) : null;
}

/** Removes what an interrupted deployment left: staging folders, and version folders the state never took in. */
async function tidy(layout: DeployLayout, state: DeployState | null): Promise<void> {
  for (const name of await readdir(layout.meta)) {
    if (name.startsWith("staging-")) await removeTree(`${layout.meta}/${name}`);
  }
  const known = new Set(state?.kept.map((k) => k.folder) ?? []);
  const live = await currentFolder(layout);
  for (const name of await readdir(layout.versions)) {
    if (!known.has(name) && name !== live) await removeTree(layout.folder(name));
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

async function withLock<T>(layout: DeployLayout, work: () => Promise<T>): Promise<T> {
  await prepare(layout);
  const unlock = await lockFolder(layout.lock, layout.root);
  try {
    return await work();
  } finally {
    await unlock();
  }
}

/**
 * Makes `req.version` current under `req.path`: fetch and check the manifest, work out which chunks the machine
 * lacks, download only those (verified, into the cache), assemble the version in a staging folder, move it under
 * versions/, switch `current` in one rename, keep `req.keep` earlier versions, then run the `after` command.
 */
export function deployVersion(req: RoostRequest, deps: RoostDeps): Promise<RoostOutcome> {
  const layout = new DeployLayout(req.path);
  return withLock(layout, async () => {
    if (!deps.source) throw new ActionError("invalid_params", "a deployment needs a chunk source");
    const progress = new Progress(deps.progress);
    await requireReplaceableCurrent(layout);
    const state = await readDeployState(layout);
    if (state && state.roost !== req.roost) throw new ActionError("conflict", `${req.path} holds roost ${state.roost}, not ${req.roost}`);
    await tidy(layout, state);

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
    const supply = new ChunkSupply(layout, deps.source, deps.signal);
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
    const staging = layout.staging(randomBytes(6).toString("hex"));
    try {
      await assemble(staging, manifest.files, supply, (size) => progress.step(size), deps.signal);
      const folder = await freshFolderName(layout, req.version);
      // The manifest goes first: a folder is only ever indexed through its manifest.
      await writeFile(layout.manifestOf(folder), bytes, { mode: 0o600 });
      await rename(staging, layout.folder(folder));
      const entry: KeptVersion = { version: req.version, folder, manifestSha256: req.manifestSha256, deployedAt: Date.now() };
      const before = state?.current ?? (await currentFolder(layout));
      // Recorded before the switch, so a crash in between leaves a folder the state knows (and later prunes).
      await writeDeployState(layout, { roost: req.roost, current: before, kept: [...(state?.kept ?? []), entry] });

      progress.phase("switch");
      await switchCurrent(layout, folder);
      const switched: DeployState = { roost: req.roost, current: folder, kept: [...(state?.kept ?? []), entry] };
      const { kept, dropped } = split(switched, req.keep);
      await writeDeployState(layout, { ...switched, kept });
      for (const old of dropped) {
        await removeTree(layout.folder(old.folder));
        await removeTree(layout.manifestOf(old.folder));
      }
      await removeTree(layout.cache);
      await mkdir(layout.cache, { mode: 0o700 });
      const previous = versionOf(state, before);
      deps.say(`current: ${previous ?? "none"} -> ${req.version}${dropped.length ? `; removed ${dropped.map((d) => d.version).join(", ")}` : ""}`);

      if (deps.after) {
        progress.phase("after");
        await deps.after(layout.current);
      }
      progress.phase("done");
      return outcome(req, layout.folder(folder), previous, {
        downloadedBytes: supply.downloadedBytes,
        downloadedChunks: supply.downloadedChunks,
        reusedChunks: Math.max(0, manifest.totals.uniqueChunks - supply.downloadedChunks),
      });
    } finally {
      await removeTree(staging);
    }
  });
}

/**
 * Switches `current` back (or forward) to a version still kept on the machine, without any download: the kept
 * folder is checked against its manifest first, and a folder changed on the machine is refused, not switched to.
 */
export function activateVersion(req: RoostRequest, deps: RoostDeps): Promise<RoostOutcome> {
  const layout = new DeployLayout(req.path);
  return withLock(layout, async () => {
    const progress = new Progress(deps.progress);
    await requireReplaceableCurrent(layout);
    const state = await readDeployState(layout);
    if (!state) throw new ActionError("not_found", `no roost has been deployed to ${req.path}`);
    if (state.roost !== req.roost) throw new ActionError("conflict", `${req.path} holds roost ${state.roost}, not ${req.roost}`);
    const candidates = state.kept.filter((k) => k.version === req.version).sort((a, b) => b.deployedAt - a.deployedAt);
    const kept = candidates[0];
    if (!kept) {
      const here = [...new Set(state.kept.map((k) => k.version))].sort((a, b) => a - b).join(", ") || "none";
      throw new ActionError("not_found", `version ${req.version} is not on this machine (kept: ${here}); deploy it instead`);
    }
    if (kept.manifestSha256 !== req.manifestSha256) throw new ActionError("conflict", `the copy of version ${req.version} here is not the hub's version ${req.version}`);
    const manifest = await readKeptManifest(layout, kept);
    if (!manifest) throw new ActionError("exec_failed", `the manifest kept for version ${req.version} is missing or changed; deploy it instead`);

    progress.phase("verify", manifest.totals.bytes, manifest.totals.chunks);
    const problems = await verifyFolder(layout.folder(kept.folder), manifest.files, (size) => progress.step(size), deps.signal);
    if (problems.length) {
      throw new ActionError("exec_failed", `version ${req.version} on this machine is not intact (${problems.join("; ")}); deploy it instead to repair it`);
    }
    progress.phase("switch");
    const previous = versionOf(state, state.current);
    await switchCurrent(layout, kept.folder);
    await writeDeployState(layout, { ...state, current: kept.folder });
    deps.say(`current: ${previous ?? "none"} -> ${req.version} (no download)`);
    if (deps.after) {
      progress.phase("after");
      await deps.after(layout.current);
    }
    progress.phase("done");
    return outcome(req, layout.folder(kept.folder), previous, { downloadedBytes: 0, downloadedChunks: 0, reusedChunks: 0 });
  });
}
