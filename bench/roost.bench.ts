import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, openSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { DeploymentEvent, DeploymentView } from "../protocol/roost-api.ts";
import { ROOST_CHUNK_BYTES, RoostManifest } from "../protocol/roost-manifest.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { REPO_ROOT, TestHub } from "../test/support/test-hub.ts";
import { runIfMain } from "./lib/entry.ts";
import type { BenchResult } from "./lib/results.ts";
import { RoostMachines } from "./lib/roost-machines.ts";
import { registerSimNodes, type SimCredentials } from "./lib/sim-fleet.ts";
import { elapsedMs, inBatches } from "./lib/stats.ts";

/**
 * Roost: push a folder (1 GiB by default), push it again with one 10 MiB file changed, then deploy it to simulated
 * machines (real agent code, in one process) and deploy the change. Push figures are bytes sent and time; deploy
 * throughput stands next to a plain HTTP download of the same chunks from the same hub by the same machines (no
 * hashing, no writing). Sizes are settings, so a development run can be small:
 *   BENCH_ROOST_MIB (1024), BENCH_ROOST_CHANGED_MIB (10), BENCH_ROOST_MACHINES (10).
 */
const TOTAL_MIB = Number(process.env.BENCH_ROOST_MIB ?? 1024);
const CHANGED_MIB = Number(process.env.BENCH_ROOST_CHANGED_MIB ?? 10);
const MACHINES = Number(process.env.BENCH_ROOST_MACHINES ?? 10);
const FILE_MIB = 64;
const MiB = 1024 * 1024;
const BENCH = `roost ${TOTAL_MIB} MiB`;
const DOWNLOADS_PER_MACHINE = 4;
/** No step of the bench may take longer than this (a loaded machine is slow, not stuck). */
const STEP_LIMIT_MS = 30 * 60_000;

const execFileAsync = promisify(execFile);

/** Writes `mib` MiB of random bytes (incompressible, all chunks distinct) to `path`. */
function writeRandom(path: string, mib: number): void {
  const fd = openSync(path, "w");
  try {
    for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(MiB));
  } finally {
    closeSync(fd);
  }
}

function makeFolder(root: string): void {
  mkdirSync(join(root, "data"), { recursive: true });
  writeRandom(join(root, "changed.bin"), CHANGED_MIB);
  let left = TOTAL_MIB - CHANGED_MIB;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(FILE_MIB, left);
    writeRandom(join(root, "data", `part-${String(i).padStart(4, "0")}.bin`), size);
    left -= size;
  }
}

interface Pushed {
  version: { version: number };
  uploadedBytes: number;
  uploadedChunks: number;
  ms: number;
}

async function push(hub: TestHub, folder: string, home: string): Promise<Pushed> {
  const { stdout } = await execFileAsync(process.execPath, [join(REPO_ROOT, "bin", "cortex.mjs"), "roost", "push", folder, "--roost", "bench", "--json"], {
    env: { PATH: process.env.PATH ?? "", HOME: home, CORTEX_HUB: hub.url, CORTEX_API_KEY: hub.adminKey },
    maxBuffer: 64 * MiB,
    timeout: STEP_LIMIT_MS,
  });
  return JSON.parse(stdout) as Pushed;
}

/** Chunks sent as plain PUTs, four at a time, as the CLI sends them. */
async function plainUpload(hub: TestHub, chunks: { hash: string; bytes: Uint8Array }[]): Promise<number> {
  const start = process.hrtime.bigint();
  await inBatches(chunks, DOWNLOADS_PER_MACHINE, async ({ hash, bytes }) => {
    const res = await fetch(`${hub.url}/api/sites/default/roost/chunks/${hash}`, {
      method: "PUT",
      headers: { Authorization: `Bearer ${hub.adminKey}`, "Content-Type": "application/octet-stream" },
      body: bytes,
    });
    if (!res.ok) throw new Error(`plain upload answered ${res.status}`);
    await res.arrayBuffer();
  });
  return elapsedMs(start);
}

async function deploy(hub: TestHub, version: number, base: string, machines: SimCredentials[]): Promise<{ ms: number; view: DeploymentView }> {
  const start = process.hrtime.bigint();
  const res = await fetch(`${hub.url}/api/sites/default/roosts/bench/deployments`, {
    method: "POST",
    headers: { Authorization: `Bearer ${hub.adminKey}`, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ version, target: { nodes: machines.map((m) => m.id) }, path: join(base, "{node}"), canaryPercent: 0, concurrency: machines.length }),
    signal: AbortSignal.timeout(STEP_LIMIT_MS),
  });
  if (!res.ok || !res.body) throw new Error(`deploy answered ${res.status}: ${await res.text()}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let end: DeploymentView | null = null;
  while (!end) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    for (const block of text.split("\n\n").slice(0, -1)) {
      const data = block.split("\n").find((l) => l.startsWith("data: "));
      const event = data ? DeploymentEvent.parse(JSON.parse(data.slice(6))) : null;
      if (event?.event === "end") end = event.deployment;
    }
    text = text.slice(text.lastIndexOf("\n\n") + 2);
  }
  await reader.cancel().catch(() => undefined);
  const ms = elapsedMs(start);
  if (!end || end.counts.done !== machines.length) {
    const why = (end?.targets ?? []).filter((t) => t.status !== "done").map((t) => `${t.nodeId}: ${t.status} ${t.error ?? ""}`);
    throw new Error(`deployment did not complete: ${JSON.stringify(end?.counts)}\n${why.join("\n")}`);
  }
  return { ms, view: end };
}

async function downloadedBytes(hub: TestHub, view: DeploymentView): Promise<number> {
  let total = 0;
  for (const t of view.targets ?? []) {
    const d = await hub.api.directive(t.directiveId!);
    if (d.data?.kind === "roost") total += d.data.downloadedBytes;
  }
  return total;
}

/** Every machine fetches every chunk of the version over plain HTTP, as many at a time as the agent does, and drops it. */
async function plainDownload(hub: TestHub, hashes: string[], machines: SimCredentials[]): Promise<{ ms: number; bytes: number }> {
  let bytes = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    machines.map((m) =>
      inBatches(hashes, DOWNLOADS_PER_MACHINE, async (hash) => {
        // Retried on a dropped connection as the agent retries, so both sides of the comparison get the same help.
        for (let attempt = 1; ; attempt++) {
          try {
            const res = await fetch(`${hub.url}/api/sites/default/roost/node/chunks/${hash}`, { headers: { Authorization: `Bearer ${m.token}` } });
            if (!res.ok) throw new Error(`plain download answered ${res.status}`);
            const got = (await res.arrayBuffer()).byteLength;
            bytes += got;
            return;
          } catch (error) {
            if (attempt >= 4) throw error;
            await new Promise((r) => setTimeout(r, 500 * attempt));
          }
        }
      }),
    ),
  );
  return { ms: elapsedMs(start), bytes };
}

function mibPerSecond(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000);
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  const hub = await TestHub.start(dirs);
  const machines = new RoostMachines(hub.endpoint, dirs.make("cortex-bench-agents-"));
  try {
    const folder = dirs.make("cortex-bench-roost-");
    makeFolder(folder);
    const home = dirs.make("cortex-bench-home-");
    const first = await push(hub, folder, home);
    // As many fresh chunks (at most 64) sent as plain PUTs: what the hub's side of an upload costs, without the
    // client's hashing, asking and committing.
    const sample = Array.from({ length: Math.min(Math.max(first.uploadedChunks, 1), 64) }, () => {
      const bytes = randomBytes(ROOST_CHUNK_BYTES);
      return { hash: createHash("sha256").update(bytes).digest("hex"), bytes };
    });
    const plainMs = await plainUpload(hub, sample);
    const plainRate = mibPerSecond(sample.length * ROOST_CHUNK_BYTES, plainMs);

    writeRandom(join(folder, "changed.bin"), CHANGED_MIB);
    const second = await push(hub, folder, home);

    const creds = await registerSimNodes(hub.api, MACHINES, "roost");
    machines.start(creds);
    for (const c of creds) {
      for (let i = 0; (await hub.api.node(c.id)).status !== "connected"; i++) {
        if (i > 600) throw new Error(`machine ${c.id} did not connect`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const base = dirs.make("cortex-bench-deployed-");
    const full = await deploy(hub, first.version.version, base, creds);
    const fullBytes = await downloadedBytes(hub, full.view);
    // The chunk hashes as the machines get them: the version's manifest, read with a machine's token.
    const manifestRes = await fetch(`${hub.url}/api/sites/default/roost/node/manifests/bench/${first.version.version}`, { headers: { Authorization: `Bearer ${creds[0]!.token}` } });
    const manifest = RoostManifest.parse(await manifestRes.json());
    const hashes = [...new Set(manifest.files.flatMap((f) => (f.type === "file" ? f.chunks : [])))];
    const plain = await plainDownload(hub, hashes, creds);
    const change = await deploy(hub, second.version.version, base, creds);
    const changeBytes = await downloadedBytes(hub, change.view);

    const label = `plain HTTP GET of the same chunks, ${DOWNLOADS_PER_MACHINE} at a time per machine`;
    return [
      { bench: BENCH, metric: "push: bytes sent", unit: "MiB", value: first.uploadedBytes / MiB, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: "push: time (hash, ask, upload, commit)", unit: "s", value: first.ms / 1000, baseline: null, baselineLabel: "" },
      {
        bench: BENCH,
        metric: "push: throughput",
        unit: "MiB/s",
        value: mibPerSecond(first.uploadedBytes, first.ms),
        baseline: plainRate,
        baselineLabel: "plain HTTP PUT of 4 MiB bodies, 4 at a time",
      },
      { bench: BENCH, metric: `push again, one ${CHANGED_MIB} MiB file changed: bytes sent`, unit: "MiB", value: second.uploadedBytes / MiB, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: `push again, one ${CHANGED_MIB} MiB file changed: time`, unit: "s", value: second.ms / 1000, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: `deploy to ${MACHINES} machines: time`, unit: "s", value: full.ms / 1000, baseline: plain.ms / 1000, baselineLabel: label },
      {
        bench: BENCH,
        metric: `deploy to ${MACHINES} machines: throughput (all machines)`,
        unit: "MiB/s",
        value: mibPerSecond(fullBytes, full.ms),
        baseline: mibPerSecond(plain.bytes, plain.ms),
        baselineLabel: label,
      },
      { bench: BENCH, metric: `deploy the change: bytes downloaded per machine`, unit: "MiB", value: changeBytes / MACHINES / MiB, baseline: null, baselineLabel: "" },
      { bench: BENCH, metric: `deploy the change to ${MACHINES} machines: time`, unit: "s", value: change.ms / 1000, baseline: null, baselineLabel: "" },
    ];
  } finally {
    await machines.stop();
    await hub.stop();
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
