import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import { setTimeout as wait } from "node:timers/promises";
import { ChunkUploadResponse, MissingChunksResponse, VersionView } from "../../protocol/roost-api.ts";
import { MAX_CHUNK_QUERY, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { readRange, sha256Hex } from "../roost/chunk-hash.ts";
import { eachLimited } from "../roost/each-limited.ts";
import { HashCache } from "../roost/hash-cache.ts";
import { scanFolder, ScanError, type ScanResult } from "../roost/scan-folder.ts";
import type { CliContext } from "./cli-context.ts";
import { CliError } from "./cli-error.ts";
import { bytes, duration, json } from "./format.ts";
import { HubError, type HubClient } from "./hub-client.ts";
import { ProgressLine, rate } from "./progress-line.ts";

const ATTEMPTS = 4;
const RETRY_BASE_MS = 500;

export interface PushOptions {
  roost: string;
  message?: string;
  concurrency: number;
  json?: boolean;
}

export interface PushOutcome {
  version: VersionView;
  uploadedChunks: number;
  uploadedBytes: number;
  hashedBytes: number;
  ms: number;
}

/** Where hashes of earlier pushes are kept: $XDG_CACHE_HOME/cortex/roost, else ~/.cache/cortex/roost. */
function cacheDir(cli: CliContext): string {
  const base = cli.io.env.XDG_CACHE_HOME || join(cli.io.homedir, ".cache");
  return join(base, "cortex", "roost");
}

/** Retries what may pass (the hub unreachable, a 5xx) a few times; a refusal is final. */
async function retrying<T>(task: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof HubError) || !error.transient || attempt >= ATTEMPTS) throw error;
      await wait(RETRY_BASE_MS * 2 ** (attempt - 1));
    }
  }
}

/** Reads a chunk again for upload, checking it is still what was hashed (the folder may have changed since). */
async function readChunk(scan: ScanResult, hash: string): Promise<Uint8Array> {
  const source = scan.sources.get(hash)!;
  const handle = await open(source.path, "r");
  try {
    const data = await readRange(handle, source.offset, source.size);
    if (sha256Hex(data) !== hash) throw new CliError(`${source.path} changed while it was pushed; push again once it is still`);
    return data;
  } finally {
    await handle.close();
  }
}

async function missingChunks(client: HubClient, hashes: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (let i = 0; i < hashes.length; i += MAX_CHUNK_QUERY) {
    const body = { hashes: hashes.slice(i, i + MAX_CHUNK_QUERY) };
    const answer = await retrying(() => client.request("POST", client.sitePath("roost", "chunks", "missing"), MissingChunksResponse, { body }));
    missing.push(...answer.missing);
  }
  return missing;
}

function summary(files: readonly ManifestEntry[]): string {
  const count = files.filter((f) => f.type === "file").length;
  const size = files.reduce((sum, f) => sum + (f.type === "file" ? f.size : 0), 0);
  return `${count} files, ${bytes(size)}`;
}

/**
 * `cortex roost push`: hash the folder (files unchanged since the last push come from the hash cache), ask the hub
 * which chunks it lacks, upload those several at a time, then commit the manifest. An interrupted push is resumed by
 * running it again: the chunks that made it are no longer missing, so only the rest is sent.
 */
export async function pushFolder(cli: CliContext, client: HubClient, folder: string, options: PushOptions): Promise<PushOutcome> {
  const root = resolve(cli.io.cwd, folder);
  const tty = cli.io.stderrIsTTY === true && !options.json;
  const started = Date.now();
  let hashing = 0;
  const hashLine = new ProgressLine((t) => cli.err(t), tty, "hashing", 0);
  let scan: ScanResult;
  try {
    scan = await scanFolder(root, { cache: new HashCache(cacheDir(cli), root), onHashed: (n) => hashLine.update((hashing += n)) });
  } catch (error) {
    if (error instanceof ScanError) throw new CliError(error.message);
    throw error;
  }
  hashLine.finish();
  if (!options.json) {
    for (const note of scan.notes) cli.err(`note: ${note}\n`);
    cli.err(`${root}: ${summary(scan.files)} (${bytes(scan.hashedBytes)} hashed, the rest unchanged since the last push)\n`);
  }

  const hashes = [...scan.sources.keys()];
  const missing = await missingChunks(client, hashes);
  const total = missing.reduce((sum, h) => sum + scan.sources.get(h)!.size, 0);
  if (!options.json) cli.err(`uploading ${missing.length} of ${hashes.length} chunks (${bytes(total)})\n`);
  const line = new ProgressLine((t) => cli.err(t), tty, "uploading", total);
  let sent = 0;
  await eachLimited(missing, options.concurrency, async (hash) => {
    const data = await readChunk(scan, hash);
    await retrying(() => client.request("PUT", client.sitePath("roost", "chunks", hash), ChunkUploadResponse, { raw: data }));
    sent += data.byteLength;
    line.update(sent);
  });
  const uploadMs = line.finish();

  const version = await retrying(() =>
    client.request("POST", client.sitePath("roosts", options.roost, "versions"), VersionView, { body: { message: options.message ?? "", files: scan.files } }),
  );
  const outcome: PushOutcome = { version, uploadedChunks: missing.length, uploadedBytes: sent, hashedBytes: scan.hashedBytes, ms: Date.now() - started };
  if (options.json) {
    cli.out(json(outcome));
  } else {
    const changes = `${version.added} added, ${version.changed} changed, ${version.removed} removed`;
    const upload = missing.length ? `uploaded ${missing.length} chunks (${bytes(sent)}) at ${rate(sent, uploadMs)}` : "nothing to upload";
    cli.out(`pushed ${version.roost}@${version.version}: ${summary(scan.files)}; ${changes}; ${upload}; ${duration(outcome.ms)}\n`);
  }
  return outcome;
}
