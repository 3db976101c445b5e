/** Telling the public internet from the hub's own machine and networks, for URLs the hub itself will call. */

/** IPv4 ranges that are not the public internet: this network, private, shared (CGNAT), loopback, link-local, reserved. */
const PRIVATE_V4: readonly [number, number][] = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0000000, 24],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xe0000000, 3],
];

function v4Number(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function inRange(ip: number, [base, bits]: readonly [number, number]): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (ip & mask) >>> 0 === base;
}

/**
 * The URL parser has already normalised the host: IPv4 in dotted decimal, IPv6 in brackets and compressed. A final
 * dot is dropped, since `localhost.` and `metadata.google.internal.` name the same hosts as without it.
 */
function bare(host: string): string {
  return host.replace(/\.+$/, "");
}

/** An IPv6 address (compressed, no brackets, as the URL parser writes it) as its eight 16-bit groups. */
function v6Groups(v6: string): number[] {
  const [head, tail] = v6.includes("::") ? v6.split("::") : [v6, null];
  const parts = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const front = parts(head);
  const back = tail === null ? [] : parts(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/** The IPv4 address an IPv6 one carries and reaches: IPv4-mapped and -compatible, NAT64 (64:ff9b::/96), 6to4. */
function embeddedV4(g: number[]): number | null {
  const v4 = (hi: number, lo: number) => hi * 65536 + lo;
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0 || g[5] === 0xffff)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return null;
}

/** Whether a host (as the URL parser writes it) is this machine's own loopback. */
export function isLoopbackHost(rawHost: string): boolean {
  const host = bare(rawHost);
  if (host === "localhost" || host.endsWith(".localhost") || host === "[::1]") return true;
  const v4 = v4Number(host);
  return v4 !== null && inRange(v4, [0x7f000000, 8]);
}

/**
 * Whether a host (as the URL parser writes it) is not on the public internet: loopback, private, link-local, CGNAT,
 * reserved, local names, one-label names, and IPv6 forms that carry such an IPv4 address. Names are judged as written:
 * a public name that resolves to a private address cannot be caught without a resolver.
 */
export function isPrivateHost(rawHost: string): boolean {
  const host = bare(rawHost);
  if (isLoopbackHost(host)) return true;
  if (host.endsWith(".local") || host.endsWith(".internal") || host.endsWith(".home.arpa")) return true;
  const v4 = v4Number(host);
  if (v4 !== null) return PRIVATE_V4.some((range) => inRange(v4, range));
  // A name of one label (`metadata`, `intranet`) is completed by the local resolver's search list: never public.
  if (!host.startsWith("[")) return !host.includes(".");
  const v6 = host.slice(1, -1).toLowerCase();
  if (v6 === "::" || v6 === "::1") return true;
  // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10), multicast (ff00::/8), NAT64 local use.
  if (/^f[cd][0-9a-f]{0,2}:/.test(v6) || /^fe[89ab][0-9a-f]?:/.test(v6) || /^fe[c-f][0-9a-f]?:/.test(v6) || /^ff[0-9a-f]{0,2}:/.test(v6)) return true;
  const groups = v6Groups(v6);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups[2] === 1) return true;
  const carried = embeddedV4(groups);
  return carried !== null && PRIVATE_V4.some((range) => inRange(carried, range));
}
