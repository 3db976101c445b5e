import { EventEmitter } from "node:events";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AgentOptions } from "../../agent/connection/agent-options.ts";
import { initialSettings, runAgent, type AgentExit } from "../../agent/connection/run-agent.ts";
import { DirectiveExecutor } from "../../agent/directives/directive-executor.ts";
import { siteUrlOf } from "../../agent/roost/hub-chunk-source.ts";
import { connectUrl } from "../../agent/connection/endpoint.ts";
import type { SimCredentials } from "./sim-fleet.ts";

/**
 * Machines for the roost bench: the real agent code (connection, directive executor, roost deploy module), one
 * per node, all in this process so ten of them cost one Node runtime instead of ten.
 */
export class RoostMachines {
  private readonly signals = new EventEmitter();
  private readonly running: Promise<AgentExit>[] = [];

  constructor(
    private readonly endpoint: string,
    private readonly stateRoot: string,
  ) {
    this.signals.setMaxListeners(0);
  }

  start(creds: readonly SimCredentials[]): void {
    for (const c of creds) {
      // A sandbox of the bench's own: the default one may belong to a local hub's node user (npm start).
      const options = AgentOptions.parse({ endpoint: this.endpoint, token: c.token, tier: "root", heartbeatMs: 5_000, stateDir: join(this.stateRoot, c.id), sandboxRoot: join(this.stateRoot, c.id, "sandbox") });
      mkdirSync(options.stateDir!, { recursive: true });
      const settings = initialSettings(options, c.id);
      const log = () => undefined;
      const hub = { siteUrl: siteUrlOf(connectUrl(options.endpoint)), token: () => settings.token };
      const handler = new DirectiveExecutor({ tier: "root", sandboxRoot: options.sandboxRoot, stateDir: options.stateDir, log, hub });
      this.running.push(runAgent(options, handler, { log, settings, signals: this.signals }));
    }
  }

  /** Stops every agent as SIGTERM would. */
  async stop(): Promise<void> {
    this.signals.emit("SIGTERM");
    await Promise.all(this.running);
  }
}
