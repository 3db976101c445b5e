import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { workerdProcesses } from "./proc-stats.ts";

/** The loopback TCP ports the process listens on: its socket inodes matched against /proc/net/tcp. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]!);
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // local address "0100007F:PORT", state 0A = LISTEN, inode in field 9.
    if (f[1]?.startsWith("0100007F:") && f[3] === "0A" && inodes.has(f[9]!)) ports.push(parseInt(f[1].slice(9), 16));
  }
  return ports;
}

/** The two workerd processes of `wrangler dev`: the proxy on the public port and the hub's own behind it. */
export interface DevWorkerds {
  proxyPid: number;
  hubPid: number;
  /** Where the hub's own workerd answers HTTP and WebSockets, without the proxy. */
  hubUrl: string;
}

/**
 * Finds the proxy `wrangler dev` puts on the public port (a second workerd relaying every request and WebSocket) and
 * the hub's own workerd behind it, whose port is the one of its loopback ports that answers /healthz. Null where
 * /proc cannot tell (not Linux), so a bench can say so.
 */
export async function devWorkerds(wranglerPid: number): Promise<DevWorkerds | null> {
  const { entry, user } = workerdProcesses(wranglerPid);
  if (entry === null || user === null) return null;
  for (const port of listeningPorts(user)) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return { proxyPid: entry, hubPid: user, hubUrl: `http://127.0.0.1:${port}` };
    } catch {
      // Not an HTTP port of the hub.
    }
  }
  return null;
}
