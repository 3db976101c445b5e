/**
 * The wire form of the objects' listener streams: server-sent events, written once here and relayed by the Worker
 * byte for byte. Each event is one `data:` line of JSON and a blank line. `JSON.stringify` without indentation never
 * writes a raw line break (one inside a string is escaped as `\n`), so whatever text an event carries, a blank line
 * in the stream only ever ends an event: a node's output cannot start a field or an event of its own.
 */
export const SSE_OPEN = ": stream open\n\n";
export const SSE_KEEPALIVE = ": keepalive\n\n";

/** Keeps proxies (Cloudflare drops idle connections at 100 s) from closing a quiet event stream. */
export const KEEPALIVE_MS = 20_000;

export function sseEvent(event: unknown): string {
  return `data: ${JSON.stringify(event)}\n\n`;
}

/**
 * A keep-alive comment to every listener every `ms` while there are listeners. The object writes it itself, between
 * two whole events (its writes are), so none lands inside an event however the bytes are cut on their way.
 */
export class KeepAlive {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly tick: () => void,
    private readonly ms = KEEPALIVE_MS,
  ) {}

  /** Starts or stops the ticks as listeners come and go. */
  watch(listening: boolean): void {
    if (listening && this.timer === undefined) this.timer = setInterval(this.tick, this.ms);
    else if (!listening && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
