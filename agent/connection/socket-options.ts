import type { ClientOptions } from "ws";

/**
 * How the agent opens its WebSocket to the hub. No permessage-deflate (`ws` offers it by default, and the runtime
 * accepts it):
 * - One deflate context carries every message of the connection, so the size of a directive's output would depend
 *   on what earlier outputs held: a secret read by one directive, then text an attacker can write (a log line) read
 *   by the next, compress together, and sizes on the wire become an oracle for the secret (CRIME).
 * - Each side keeps a compressor and a decompressor per connection for as long as it lasts: measured locally, about
 *   630 KiB more hub memory per connected node; and each compressed frame is a trip through zlib on the agent's
 *   thread pool.
 * The benches' simulated nodes open their sockets with these options too, so their figures are the agent's.
 */
export const HUB_SOCKET_OPTIONS = { perMessageDeflate: false } as const satisfies ClientOptions;
