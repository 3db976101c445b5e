import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** The pids of every process under `root` (itself included), from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // The fields after the command name, which is in parentheses and may hold spaces.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const all = [root];
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]!) ?? []));
  return all;
}

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
export async function devWorkerds(wranglerPid: number, publicPort: number): Promise<DevWorkerds | null> {
  let proxyPid: number | null = null;
  let hub: { pid: number; url: string } | null = null;
  for (const pid of descendants(wranglerPid)) {
    let command: string;
    try {
      command = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
    } catch {
      continue;
    }
    if (command !== "workerd") continue;
    const ports = listeningPorts(pid);
    if (ports.includes(publicPort)) {
      proxyPid = pid;
      continue;
    }
    for (const port of ports) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.ok) hub = { pid, url: `http://127.0.0.1:${port}` };
      } catch {
        // Not an HTTP port of the hub.
      }
    }
  }
  return proxyPid !== null && hub ? { proxyPid, hubPid: hub.pid, hubUrl: hub.url } : null;
}

/** CPU time (user and system) the process has used so far, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime, fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
