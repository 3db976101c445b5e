import { DEFAULT_RECONNECT_MS, MAX_RECONNECT_MS } from "../../protocol/limits.ts";

/**
 * A connection that stayed registered this long counts as healthy, so the next failure starts the backoff
 * again from the first step. Shorter ones keep growing it: a hub that accepts and then drops every connection
 * must not be hammered once a second.
 */
export const STABLE_CONNECTION_MS = MAX_RECONNECT_MS;

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  stableAfterMs?: number;
  /** Uniform in [0, 1), like Math.random; injected so tests can pin the jitter. */
  random?: () => number;
}

/** Upper bound of the wait before retry number `attempt` (0 for the first retry): doubling from base, capped. */
function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 32));
}

/**
 * Reconnect delays with full jitter: each wait is uniform between zero and the ceiling, so agents dropped together
 * by a hub restart spread their reconnects over the whole window instead of arriving in one stampede.
 */
export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly stableAfterMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? DEFAULT_RECONNECT_MS;
    this.capMs = options.capMs ?? MAX_RECONNECT_MS;
    this.stableAfterMs = options.stableAfterMs ?? STABLE_CONNECTION_MS;
    this.random = options.random ?? Math.random;
  }

  /** The wait before the next connection attempt; each call moves one step further. */
  nextDelay(): number {
    const ceiling = backoffCeiling(this.attempt, this.baseMs, this.capMs);
    this.attempt += 1;
    return Math.round(ceiling * this.random());
  }

  /** Report how long the connection that just ended stayed registered (0 if it never registered). */
  connectionEnded(registeredMs: number): void {
    if (registeredMs >= this.stableAfterMs) this.attempt = 0;
  }
}
