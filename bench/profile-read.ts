import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DirectiveView } from "../protocol/api.ts";
import { Fleet } from "../test/support/fleet.ts";
import { REPO_ROOT } from "../test/support/test-hub.ts";
import { freePort } from "../test/support/free-port.ts";
import { HubProfiler, type CallFrame, type CpuProfile } from "./lib/cpu-profile.ts";
import { ownerKeyClient } from "./lib/owner-key.ts";
import { registerSimNodes } from "./lib/sim-fleet.ts";
import { RoundTrips, SimNode } from "./lib/sim-node.ts";

/**
 * Where the hub's CPU goes in the no-op directive (bench/noop-directive.bench.ts): a CPU profile of workerd, taken
 * through its inspector (Chrome DevTools protocol, Profiler domain) while `PROFILE_RUNS` reads of a small file go
 * through the API to a simulated node. Prints the functions with the most self time, and the hub's own functions
 * with the most total time, and writes the whole profile for DevTools. A tool for finding work, not a bench: the
 * profiler's own overhead makes its timings unfit to compare.
 *
 *   npx tsx bench/profile-read.ts [out.cpuprofile]
 */
const RUNS = Number(process.env.PROFILE_RUNS ?? 500);
const TOP = 40;

/** The bundle wrangler dev built, with esbuild's `// path/file.ts` comment at the start of every module. */
function bundleModules(): (line: number) => string {
  const dir = join(REPO_ROOT, ".wrangler", "tmp");
  const newest = readdirSync(dir)
    .filter((d) => d.startsWith("dev-"))
    .map((d) => join(dir, d, "index.js"))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!newest) return () => "index.js";
  const starts: [number, string][] = [];
  readFileSync(newest, "utf8")
    .split("\n")
    .forEach((text, i) => {
      const m = /^\/\/ ((?:node_modules\/)?[\w@./-]+\.[cm]?[jt]s)$/.exec(text);
      if (m) starts.push([i, m[1]!.replace(/^node_modules\//, "")]);
    });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = "index.js";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]![0] <= line) (found = starts[mid]![1]), (lo = mid + 1);
      else hi = mid - 1;
    }
    return found;
  };
}

let moduleAt: (line: number) => string = () => "index.js";

function frameName(f: CallFrame): string {
  const file = f.url ? `${moduleAt(f.lineNumber)}@${f.lineNumber + 1}` : "(native)";
  return `${f.functionName || "(anonymous)"} ${file}`;
}

function summarise(profile: CpuProfile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0) / 1000));
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const self = new Map<string, number>();
  // Time in native code (SQLite, streams, encoders) charged to the JavaScript module that called it.
  const byModule = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    self.set(frameName(byId.get(id)!.callFrame), (self.get(frameName(byId.get(id)!.callFrame)) ?? 0) + ms);
    let caller: number | undefined = id;
    while (caller !== undefined && !byId.get(caller)!.callFrame.url) caller = parent.get(caller);
    const module = caller === undefined ? frameName(byId.get(id)!.callFrame) : moduleAt(byId.get(caller)!.callFrame.lineNumber);
    byModule.set(module, (byModule.get(module) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = frameName(byId.get(at)!.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + ms);
    }
  }
  const idle = self.get("(idle) (native):0") ?? 0;
  const busy = total - idle;
  console.log(`${RUNS} reads; ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms busy = ${(busy / RUNS).toFixed(2)} ms per read`);
  const print = (title: string, m: Map<string, number>, keep: (name: string) => boolean) => {
    console.log(`\n${title}`);
    for (const [name, ms] of [...m].filter(([n]) => keep(n)).sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      console.log(`${(ms / RUNS).toFixed(3).padStart(8)} ms/read ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${name}`);
    }
  };
  print("self time by module, native calls charged to their caller", byModule, (n) => !n.startsWith("(idle)"));
  print("self time", self, (n) => !n.startsWith("(idle)"));
  print("total time, the hub's own code", inclusive, (n) => /\.ts@/.test(n));
}

const out = process.argv[2] ?? join(process.cwd(), "read.cpuprofile");
const inspectorPort = await freePort();
const fleet = await Fleet.start({}, inspectorPort);
const closers: (() => void)[] = [];
try {
  const [sim] = await registerSimNodes(fleet.api, 1, "profile-sim");
  const simNode = await SimNode.connect({ url: fleet.hub.endpoint, token: sim!.token, nodeId: sim!.id, heartbeatMs: 60_000, trips: new RoundTrips() });
  closers.push(() => simNode.close());
  const hub = await ownerKeyClient(fleet);
  closers.push(() => hub.close());
  const body = JSON.stringify({ action: "read", params: { path: "/etc/hostname" } });
  const read = async () => {
    const view = DirectiveView.parse(JSON.parse(await hub.request("POST", `/api/sites/default/nodes/${sim!.id}/directives`, body)));
    if (view.status !== "done") throw new Error(`the read came back ${view.status}: ${view.error}`);
  };
  for (let i = 0; i < 50; i++) await read();

  const profiler = await HubProfiler.connect(inspectorPort, 100);
  closers.push(() => profiler.close());
  await profiler.start();
  for (let i = 0; i < RUNS; i++) await read();
  const profile = await profiler.stop();
  writeFileSync(out, JSON.stringify(profile));
  moduleAt = bundleModules();
  summarise(profile);
  console.log(`\nwrote ${out} (open it in Chrome DevTools, Performance)`);
} finally {
  for (const close of closers) close();
  await fleet.close();
}
