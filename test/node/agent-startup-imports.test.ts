import { build } from "esbuild";
import { describe, expect, it, vi } from "vitest";
import { REPO_ROOT } from "../support/test-hub.ts";

/** Every action schema built so far, by the order it was built in (protocol/lazy-schema.ts, counted). */
const built = vi.hoisted(() => [] as unknown[]);
vi.mock("../../protocol/lazy-schema.ts", () => ({
  onFirstUse<T>(build: () => T): () => T {
    let schema: T | undefined;
    return () => {
      if (schema === undefined) built.push((schema = build()));
      return schema;
    };
  },
}));

/**
 * What an installed agent evaluates at start: `cortex node connect`'s program and the modules its action imports
 * before connecting, followed through static imports only (a dynamic import runs when its code path does). Every
 * module here stays in the memory of every machine for as long as it runs (docs/benchmarks.md, "The agent at rest").
 */
const STARTUP_ENTRIES = [
  "agent/cli/agent-program.ts",
  "agent/connection/run-agent.ts",
  "agent/directives/directive-executor.ts",
  "agent/supervisor/start-supervisor.ts",
  "agent/connection/endpoint.ts",
  "agent/roost/hub-chunk-source.ts",
  "agent/privilege/startup-error.ts",
];

/** The agent's own modules evaluated at start, and the Node built-ins they import statically. */
async function modulesEvaluatedAtStart(): Promise<Set<string>> {
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: STARTUP_ENTRIES,
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    outdir: "out",
    metafile: true,
    external: ["bufferutil", "utf-8-validate"],
    logLevel: "silent",
  });
  const { inputs } = result.metafile;
  const seen = new Set<string>();
  const pending = [...STARTUP_ENTRIES];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imported of inputs[file]?.imports ?? []) {
      if (imported.kind !== "import-statement") continue;
      if (imported.external) seen.add(imported.path);
      else pending.push(imported.path);
    }
  }
  return seen;
}

describe("the agent's start-up imports", () => {
  it("carry the node protocol but none of the hub API's, the site settings', the CLI's or an action's own libraries", async () => {
    const modules = await modulesEvaluatedAtStart();
    // The walk itself works: what every agent needs is there.
    expect(modules).toContain("protocol/node-messages.ts");
    expect(modules).toContain("agent/actions/bash.ts");
    expect([...modules].some((file) => file.includes("node_modules/ws/"))).toBe(true);
    for (const file of ["protocol/api.ts", "protocol/roost-api.ts", "protocol/site-settings.ts", "protocol/autonomy.ts", "protocol/chat.ts", "agent/cli/program.ts"]) {
      expect(modules, file).not.toContain(file);
    }
    expect([...modules].filter((file) => file.includes("node_modules/re2js/"))).toEqual([]);
    // Built-ins count as well: their code is mapped into every agent that loads them. The CLI's prompt is not the agent's.
    expect(modules).toContain("node:child_process");
    expect([...modules].filter((file) => file.startsWith("node:readline"))).toEqual([]);
    // Actions other than bash and the file actions are loaded by the first directive that names them.
    for (const action of ["process-list", "process-signal", "roost-switch", "service-manage", "power", "disk-clean", "run-launch"]) {
      expect(modules, action).not.toContain(`agent/actions/${action}.ts`);
    }
  }, 60_000);
});

describe("the agent's action schemas", () => {
  it("are not built by starting the agent, only by the first directive of each action", async () => {
    for (const entry of STARTUP_ENTRIES) await import(`../../${entry}`);
    const { parseActionCall } = await import("../../protocol/directives.ts");
    expect(built).toHaveLength(0);
    expect(parseActionCall({ action: "read", params: { path: "/etc/hostname" } }).success).toBe(true);
    expect(built).toHaveLength(1);
    expect(parseActionCall({ action: "read", params: { path: "relative" } }).success).toBe(false);
    expect(parseActionCall({ action: "run.status", params: { runId: "run-1" } }).success).toBe(true);
    expect(built).toHaveLength(2);
  }, 60_000);
});
