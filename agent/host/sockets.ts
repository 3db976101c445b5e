import { readdir, readFile, readlink } from "node:fs/promises";

/**
 * Listening sockets and routes from /proc/net, the kernel's own tables, with the process that owns each socket
 * found through /proc/PID/fd. Nothing is spawned, so the answer does not depend on ss or netstat being installed.
 */

export interface ListeningSocket {
  protocol: "tcp" | "tcp6" | "udp" | "udp6";
  address: string;
  port: number;
  inode: number;
}

const TCP_LISTEN = "0A";
/** UDP has no listen state; a bound socket with no peer shows as TCP_CLOSE (07). */
const UDP_UNCONNECTED = "07";

/**
 * A /proc/net hex address. The socket tables print each 32-bit word in the machine's byte order (little-endian on
 * every platform we run on); ipv6_route prints plain network order.
 */
export function decodeAddress(hex: string, order: "words" | "network" = "words"): string {
  const bytes: number[] = [];
  for (let word = 0; word < hex.length / 8; word++) {
    const chunk = hex.slice(word * 8, word * 8 + 8);
    for (const i of order === "words" ? [6, 4, 2, 0] : [0, 2, 4, 6]) bytes.push(parseInt(chunk.slice(i, i + 2), 16));
  }
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIpv6(groups);
}

/** The longest run of zero groups written as `::`, as in RFC 5952. */
function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > bestLength && j - i > 1) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  if (bestStart < 0) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLength).join(":")}`;
}

export function parseSocketTable(text: string, protocol: ListeningSocket["protocol"]): ListeningSocket[] {
  const wanted = protocol.startsWith("tcp") ? TCP_LISTEN : UDP_UNCONNECTED;
  const found: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== wanted) continue;
    const [localHex, portHex] = fields[1]!.split(":");
    const remotePort = fields[2]!.split(":")[1];
    if (!localHex || !portHex || (wanted === UDP_UNCONNECTED && remotePort !== "0000")) continue;
    found.push({ protocol, address: decodeAddress(localHex), port: parseInt(portHex, 16), inode: Number(fields[9]) });
  }
  return found;
}

export async function listeningSockets(): Promise<ListeningSocket[]> {
  const tables = await Promise.all(
    (["tcp", "tcp6", "udp", "udp6"] as const).map(async (protocol) => {
      try {
        return parseSocketTable(await readFile(`/proc/net/${protocol}`, "utf8"), protocol);
      } catch {
        return [];
      }
    }),
  );
  return tables.flat();
}

/** Socket inode → PIDs holding it, for the inodes asked about. Processes the agent may not inspect are skipped. */
export async function socketOwners(inodes: ReadonlySet<number>): Promise<Map<number, number[]>> {
  const owners = new Map<number, number[]>();
  const pids = (await readdir("/proc")).filter((name) => /^[0-9]+$/.test(name));
  await Promise.all(
    pids.map(async (pid) => {
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        return;
      }
      for (const fd of fds) {
        const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode === undefined || !inodes.has(Number(inode))) continue;
        const list = owners.get(Number(inode)) ?? [];
        if (!list.includes(Number(pid))) list.push(Number(pid));
        owners.set(Number(inode), list);
      }
    }),
  );
  return owners;
}

export interface Route {
  interface: string;
  gateway: string;
}

export function parseIpv4DefaultRoutes(text: string): Route[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 8 && fields[1] === "00000000" && fields[7] === "00000000")
    .map((fields) => ({ interface: fields[0]!, gateway: decodeAddress(fields[2]!) }));
}

export function parseIpv6DefaultRoutes(text: string): Route[] {
  return text
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 10 && /^0{32}$/.test(fields[0]!) && fields[1] === "00" && !/^0{32}$/.test(fields[4]!))
    .map((fields) => ({ interface: fields[9]!, gateway: decodeAddress(fields[4]!, "network") }));
}
