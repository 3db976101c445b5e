import { Fleet } from "../test/support/fleet.ts";
import { TempDirs } from "../test/support/temp-dirs.ts";
import { runIfMain } from "./lib/entry.ts";
import { startPastHub } from "./lib/past-hub.ts";
import type { BenchResult } from "./lib/results.ts";
import { elapsedMs, inBatches, percentile } from "./lib/stats.ts";

/**
 * The auth path's throughput with many sites and credentials in parallel: authenticated `GET /sites/<s>/nodes`
 * (the cheapest site route) with API keys spread over sites, as many in flight as a busy hub would have. Against the
 * same load on the hub as it was before the auth path was sharded (every request asked the one Directory), started
 * from git history in the same run. Locally every object runs in one workerd process on this machine's cores, so
 * this measures the path's cost, not Cloudflare's parallelism: docs/benchmarks.md turns the per-object limits into
 * what a deployed hub sustains.
 */
const BENCH = "auth path";
/** The last commit whose requests were all authenticated by the one Directory. */
const SINGLE_DIRECTORY_REV = "b529a61";
const SITES = Number(process.env.BENCH_AUTH_SITES ?? 200);
const KEYS = Number(process.env.BENCH_AUTH_KEYS ?? 40);
const IN_FLIGHT = Number(process.env.BENCH_AUTH_IN_FLIGHT ?? 32);
const SECONDS = Number(process.env.BENCH_AUTH_SECONDS ?? 10);
const WARMUP_SECONDS = 3;

interface Target {
  url: string;
  adminKey: string;
}

interface Load {
  perSecond: number;
  p50: number;
  p99: number;
}

async function expectOk(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
  return res;
}

/**
 * A setup request, sent again while `wrangler dev` restarts the Worker (its file watcher rebuilds once just after
 * start, and a request caught in between is answered 503). `done` says which answers mean the work is done.
 */
async function settled(send: () => Promise<Response>, done: (status: number) => boolean, what: string): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await send();
    if (done(res.status)) return res;
    if (res.status !== 503 || attempt >= 10) return expectOk(res, what);
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

const PERSON = { email: "bench@example.com", name: "Bench", password: "bench password 0123456789" };

/** A superadmin with `KEYS` API keys, and `SITES` sites: what the load runs with. */
async function prepare(target: Target): Promise<{ keys: string[]; sites: string[] }> {
  const json = { "Content-Type": "application/json", Origin: target.url };
  const setup = await settled(
    () => fetch(`${target.url}/api/setup`, { method: "POST", headers: json, body: JSON.stringify({ setupCode: target.adminKey, ...PERSON }) }),
    (status) => status === 201 || status === 409,
    "setup",
  );
  const signedIn =
    setup.status === 201
      ? setup
      : await settled(
          () => fetch(`${target.url}/api/auth/login`, { method: "POST", headers: json, body: JSON.stringify({ email: PERSON.email, password: PERSON.password }) }),
          (status) => status === 200,
          "sign-in",
        );
  // The past hub of the baseline names its cookie without the `__Host-` prefix today's hub has.
  const cookie = /(?:__Host-)?cortex_session=[^;]+/.exec(signedIn.headers.get("Set-Cookie") ?? "")![0];
  const sites = Array.from({ length: SITES }, (_, i) => `bench-${String(i).padStart(4, "0")}`);
  await inBatches(sites, 16, (id) =>
    settled(
      () => fetch(`${target.url}/api/sites`, { method: "POST", headers: { Authorization: `Bearer ${target.adminKey}`, "Content-Type": "application/json" }, body: JSON.stringify({ id, name: id }) }),
      (status) => status === 201 || status === 409,
      `creating site ${id}`,
    ),
  );
  const keys = await inBatches(Array.from({ length: KEYS }, (_, i) => i), 8, async (i) => {
    const res = await settled(
      () => fetch(`${target.url}/api/auth/api-keys`, { method: "POST", headers: { ...json, Cookie: cookie }, body: JSON.stringify({ name: `bench ${i}`, scope: "admin" }) }),
      (status) => status === 201,
      "creating a key",
    );
    return ((await res.json()) as { key: string }).key;
  });
  return { keys, sites };
}

/** Requests for `seconds`, `IN_FLIGHT` at a time, each with the next key on the next site. */
async function load(target: Target, prepared: { keys: string[]; sites: string[] }, seconds: number): Promise<Load> {
  const latencies: number[] = [];
  let n = 0;
  const until = Date.now() + seconds * 1000;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (Date.now() < until) {
        const i = n++;
        const key = prepared.keys[i % prepared.keys.length]!;
        const site = prepared.sites[Math.floor(i / prepared.keys.length) % prepared.sites.length]!;
        const began = process.hrtime.bigint();
        const res = await fetch(`${target.url}/api/sites/${site}/nodes`, { headers: { Authorization: `Bearer ${key}` } });
        await expectOk(res, `GET /api/sites/${site}/nodes`);
        await res.arrayBuffer();
        latencies.push(elapsedMs(began));
      }
    }),
  );
  return { perSecond: latencies.length / (elapsedMs(start) / 1000), p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

async function measure(target: Target): Promise<Load> {
  const prepared = await prepare(target);
  await load(target, prepared, WARMUP_SECONDS);
  return load(target, prepared, SECONDS);
}

export async function run(): Promise<BenchResult[]> {
  const dirs = new TempDirs();
  try {
    const fleet = await Fleet.start();
    let sharded: Load;
    try {
      sharded = await measure({ url: fleet.hub.url, adminKey: fleet.hub.adminKey });
    } finally {
      await fleet.close();
    }
    const past = await startPastHub(SINGLE_DIRECTORY_REV, dirs);
    let single: Load;
    try {
      single = await measure(past);
    } finally {
      await past.stop();
    }
    const label = `every request through the one Directory (${SINGLE_DIRECTORY_REV})`;
    const shape = `${KEYS} keys × ${SITES} sites, ${IN_FLIGHT} in flight`;
    return [
      { bench: BENCH, metric: `authenticated GET /nodes, ${shape}`, unit: "req/s", value: sharded.perSecond, baseline: single.perSecond, baselineLabel: label },
      { bench: BENCH, metric: "latency p50", unit: "ms", value: sharded.p50, baseline: single.p50, baselineLabel: label },
      { bench: BENCH, metric: "latency p99", unit: "ms", value: sharded.p99, baseline: single.p99, baselineLabel: label },
    ];
  } finally {
    dirs.removeAll();
  }
}

await runIfMain(import.meta.url, run);
