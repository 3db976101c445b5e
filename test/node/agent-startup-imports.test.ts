import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/test-hub.ts";

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
      if (imported.kind === "import-statement" && !imported.external) pending.push(imported.path);
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
    // Actions other than bash and the file actions are loaded by the first directive that names them.
    for (const action of ["process-list", "process-signal", "roost-switch", "service-manage", "power", "disk-clean", "run-launch"]) {
      expect(modules, action).not.toContain(`agent/actions/${action}.ts`);
    }
  }, 60_000);
});
