import type { HubApi } from "../../test/support/hub-api.ts";
import { RoundTrips, SimNode } from "./sim-node.ts";
import { inBatches } from "./stats.ts";

export interface SimCredentials {
  id: string;
  token: string;
}

/** Registers `count` nodes through the hub's API, `concurrency` requests at a time. */
export function registerSimNodes(api: HubApi, count: number, prefix: string, concurrency = 25): Promise<SimCredentials[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, "0")}`);
  return inBatches(ids, concurrency, async (id) => {
    const creds = await api.register({ name: id, id, tier: "root" });
    return { id: creds.id, token: creds.token };
  });
}

export interface ConnectOptions {
  url: string;
  heartbeatMs: number;
  trips: RoundTrips;
  concurrency?: number;
  streamBytes?: number;
  metricsEveryTicks?: number;
  /** Given, a node that fails to connect is reported here and left out; otherwise the first failure rejects. */
  tolerant?: (error: Error) => void;
}

/** Opens one simulated node per credential, `concurrency` handshakes in flight at a time. */
export async function connectSimNodes(creds: readonly SimCredentials[], options: ConnectOptions): Promise<SimNode[]> {
  const { tolerant } = options;
  const nodes = await inBatches(creds, options.concurrency ?? 50, (c) => {
    const connecting = SimNode.connect({ url: options.url, token: c.token, nodeId: c.id, heartbeatMs: options.heartbeatMs, trips: options.trips, streamBytes: options.streamBytes, metricsEveryTicks: options.metricsEveryTicks });
    return tolerant ? connecting.catch((error: Error) => (tolerant(error), null)) : connecting;
  });
  return nodes.filter((node): node is SimNode => node !== null);
}

export function closeAll(nodes: readonly SimNode[]): void {
  for (const node of nodes) node.close();
}
