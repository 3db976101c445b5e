import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { NodeCredentials, NodeStatus, NodeView } from "../../protocol/api.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { Cortex, type AgentSpec } from "./cortex.ts";
import { killMatching } from "./leftovers.ts";
import { ProcessSet, type ManagedProcess } from "./processes.ts";
import { TempDirs } from "./temp-dirs.ts";
import { TestHub } from "./test-hub.ts";
import { waitFor } from "./wait-for.ts";

export interface AgentHandle {
  proc: ManagedProcess;
  sandbox: string;
  stateDir: string;
}

/**
 * What an end-to-end test file works with: one real hub, the `cortex` binary pointed at it, and every process and
 * folder they create, all torn down by `close()`.
 */
export class Fleet {
  /** Unique strings put in remote commands, so whatever they leave running can be found and killed. */
  private readonly markers = new Set<string>();

  private constructor(
    readonly hub: TestHub,
    readonly cortex: Cortex,
    readonly dirs: TempDirs,
    readonly procs: ProcessSet,
  ) {}

  /** `hubVars` and `inspectorPort`: see TestHub.start. */
  static async start(hubVars: Record<string, string> = {}, inspectorPort?: number): Promise<Fleet> {
    const dirs = new TempDirs();
    const procs = new ProcessSet();
    try {
      const hub = await TestHub.start(dirs, hubVars, inspectorPort);
      return new Fleet(hub, new Cortex(hub, dirs, procs), dirs, procs);
    } catch (error) {
      dirs.removeAll();
      throw error;
    }
  }

  get api() {
    return this.hub.api;
  }

  /** A string unique to this run, to tag a remote command with. */
  marker(name: string): string {
    const marker = `cortex-e2e-${name}-${process.pid}-${Date.now().toString(36)}`;
    this.markers.add(marker);
    return marker;
  }

  register(name: string, tier: CapabilityTier, group?: string): Promise<NodeCredentials> {
    return this.api.register({ name, id: name, tier, ...(group ? { group } : {}) });
  }

  /**
   * Starts an agent with a fresh sandbox and state folder (or the ones given, to restart "the same machine"). The
   * sandbox does not exist yet: the agent creates it for its action user, in a folder that user can reach. The hub
   * checks paths against the sandbox the agent reports.
   */
  startAgent(spec: Omit<AgentSpec, "sandbox" | "stateDir"> & Partial<Pick<AgentSpec, "sandbox" | "stateDir">>): AgentHandle {
    const sandbox = spec.sandbox ?? join(this.dirs.makeOpen("cortex-e2e-sandbox-"), "sandbox");
    const stateDir = spec.stateDir ?? join(this.dirs.make("cortex-agent-"), "state");
    mkdirSync(stateDir, { recursive: true });
    return { proc: this.cortex.agent({ ...spec, sandbox, stateDir }), sandbox, stateDir };
  }

  /** Registers a node, starts its agent and waits until the hub lists it connected. */
  async connectedNode(name: string, tier: CapabilityTier, options: { group?: string; agentTier?: CapabilityTier; endpoint?: string } = {}): Promise<AgentHandle & { creds: NodeCredentials }> {
    const creds = await this.register(name, tier, options.group);
    const handle = this.startAgent({ token: creds.token, tier: options.agentTier ?? tier, ...(options.endpoint && { endpoint: options.endpoint }) });
    await this.waitForStatus(name, "connected", 30_000, handle.proc);
    return { ...handle, creds };
  }

  /** Waits until the hub reports the node in `status`; an agent that exits meanwhile fails the wait with its output. */
  waitForStatus(id: string, status: NodeStatus, timeoutMs = 20_000, agent?: ManagedProcess): Promise<NodeView> {
    return waitFor(
      `node ${id} to be ${status}`,
      async () => {
        if (agent && !agent.running && status === "connected") throw new Error(`the agent exited:\n${agent.output}`);
        const view = await this.api.node(id);
        return view.status === status ? view : undefined;
      },
      { timeoutMs },
    );
  }

  /**
   * Waits for a connection made after `since`. A status read alone is not enough after a hub restart: the stored
   * status says `connected` until the hub's first liveness sweep notices the socket is gone.
   */
  waitForConnectionSince(id: string, since: number, timeoutMs: number, agent?: ManagedProcess): Promise<NodeView> {
    return waitFor(
      `node ${id} to connect again`,
      async () => {
        if (agent && !agent.running) throw new Error(`the agent exited:\n${agent.output}`);
        const view = await this.api.node(id);
        return view.status === "connected" && (view.connectedAt ?? 0) >= since ? view : undefined;
      },
      { timeoutMs },
    );
  }

  async close(): Promise<void> {
    await this.procs.killAll();
    for (const marker of this.markers) killMatching(marker);
    await this.hub.stop();
    this.dirs.removeAll();
  }
}
