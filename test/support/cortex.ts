import { join } from "node:path";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { testRunAs } from "./action-user.ts";
import { ManagedProcess, type ProcessSet } from "./processes.ts";
import type { TempDirs } from "./temp-dirs.ts";
import { REPO_ROOT, type TestHub } from "./test-hub.ts";

const CORTEX_BIN = join(REPO_ROOT, "bin", "cortex.mjs");

export interface CliOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface AgentSpec {
  token: string;
  tier: CapabilityTier;
  /** Heartbeat interval; small so liveness tests stay short. */
  heartbeatMs?: number;
  /** Base reconnect delay; small so reconnects after a hub restart come quickly. */
  reconnectMs?: number;
  sandbox: string;
  stateDir: string;
  group?: string;
  /** Where it dials; by default the test hub's endpoint for the default site. */
  endpoint?: string;
  /** The user its actions run as; by default the test user when the test runs as root (ignored at tier root). */
  runAs?: string;
}

/**
 * Runs the real `cortex` binary the way a user does: its own process, a clean environment with a throwaway HOME and
 * working folder (so no config file or `.dev.vars` is found), the hub and key given through the environment.
 */
export class Cortex {
  private readonly home: string;

  constructor(
    private readonly hub: TestHub,
    dirs: TempDirs,
    private readonly procs: ProcessSet,
  ) {
    this.home = dirs.make("cortex-home-");
  }

  private env(extra: Record<string, string>): Record<string, string> {
    return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: this.home, ...extra };
  }

  /** Starts a CLI command against the hub and returns the running process; `extra` overrides the environment. */
  spawn(args: string[], extra: Record<string, string> = {}): ManagedProcess {
    const env = this.env({ CORTEX_HUB: this.hub.url, CORTEX_API_KEY: this.hub.adminKey, ...extra });
    return this.procs.add(new ManagedProcess(`cortex ${args.join(" ")}`, process.execPath, [CORTEX_BIN, ...args], { cwd: this.home, env }));
  }

  /** Runs a CLI command to its end. */
  async run(args: string[], timeoutMs = 60_000, extra: Record<string, string> = {}): Promise<CliOutcome> {
    const proc = this.spawn(args, extra);
    const exit = await proc.waitForExit(timeoutMs);
    return { code: exit.code, stdout: proc.stdout, stderr: proc.stderr };
  }

  /** Runs a `--json` command that must succeed and returns what it printed, parsed. */
  async json(args: string[]): Promise<unknown> {
    const out = await this.run([...args, "--json"]);
    if (out.code !== 0) throw new Error(`cortex ${args.join(" ")} exited ${out.code}: ${out.stderr}`);
    return JSON.parse(out.stdout);
  }

  /** `cortex node connect` with the token in CORTEX_NODE_TOKEN, as an operator would keep it out of `ps`. */
  agent(spec: AgentSpec): ManagedProcess {
    const args = [
      "node",
      "connect",
      "--endpoint",
      spec.endpoint ?? this.hub.endpoint,
      "--tier",
      spec.tier,
      "--heartbeat-ms",
      String(spec.heartbeatMs ?? 1_000),
      "--reconnect-ms",
      String(spec.reconnectMs ?? 250),
      "--state-dir",
      spec.stateDir,
      "--sandbox",
      spec.sandbox,
      ...(spec.group ? ["--group", spec.group] : []),
    ];
    const runAs = spec.runAs ?? testRunAs();
    const env = this.env({ CORTEX_NODE_TOKEN: spec.token, ...(runAs && { CORTEX_RUN_AS: runAs }) });
    return this.procs.add(new ManagedProcess(`agent ${args.join(" ")}`, process.execPath, [CORTEX_BIN, ...args], { cwd: this.home, env }));
  }
}
