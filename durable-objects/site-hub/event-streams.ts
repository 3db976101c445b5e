import type { DirectiveEvent } from "../../protocol/api.ts";
import { KeepAlive, KEEPALIVE_MS, SSE_KEEPALIVE, SSE_OPEN, sseEvent } from "../shared/sse-wire.ts";

/** What one listener gets of an event: the event, a changed copy, or nothing (null). */
export type Presenter<E = DirectiveEvent> = (event: E) => E | null;

function asIs<E>(event: E): E {
  return event;
}

/**
 * Live listeners for directives and fan-outs (and, with their own event type, roost deployments). Each listener is
 * a byte stream of server-sent events (`sse-wire.ts`: encoded once, here, from what `present` let this listener
 * see), returned over RPC to the Worker, which relays the bytes as they are or waits for the final event. Every
 * write is whole events, and keep-alives go out between writes. Listeners live in memory only: an open stream keeps
 * the object awake, and the stored records are the truth.
 */
export class EventStreams<E = DirectiveEvent> {
  private readonly listeners = new Map<string, Map<ReadableStreamDefaultController<Uint8Array>, Presenter<E>>>();
  /** Callers waiting for the last event only (a JSON answer, not a stream): no bytes, no stream across the RPC. */
  private readonly waiters = new Map<string, { present: Presenter<E>; settle: (last: E | null) => void }[]>();
  private readonly encoder = new TextEncoder();
  /** While `coalesce` runs: the lines each listener is owed, sent as one piece when it ends. */
  private held: Map<ReadableStreamDefaultController<Uint8Array>, { key: string; lines: string[] }> | null = null;
  private readonly keepAlive: KeepAlive;

  constructor(keepAliveMs = KEEPALIVE_MS) {
    this.keepAlive = new KeepAlive(() => {
      for (const [key, set] of this.listeners) for (const c of set.keys()) this.send(key, c, SSE_KEEPALIVE);
    }, keepAliveMs);
  }

  /**
   * Opens a stream on `key` (a directive or fan-out id); `first` events are queued before anything live, and
   * `present` decides what this listener gets of each event (everything, unless said otherwise).
   */
  open(key: string, present: Presenter<E> = asIs, first: E[] = []): ReadableStream<Uint8Array> {
    let ctrl: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        ctrl = controller;
        controller.enqueue(this.encoder.encode(SSE_OPEN + this.lines(first, present)));
        this.set(key).set(controller, present);
        this.keepAlive.watch(true);
      },
      cancel: () => this.drop(key, ctrl),
    });
  }

  /** A stream of events that already happened, closed after them: for following something that has ended. */
  replay(events: E[], present: Presenter<E> = asIs): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(this.encoder.encode(SSE_OPEN + this.lines(events, present)));
        controller.close();
      },
    });
  }

  /**
   * The event `key` ends with (as `present` shows it), or null when it ends without one. Registered like `open`,
   * before anything can end it.
   */
  waitForEnd(key: string, present: Presenter<E> = asIs): Promise<E | null> {
    return new Promise((settle) => {
      const waiting = this.waiters.get(key);
      if (waiting) waiting.push({ present, settle });
      else this.waiters.set(key, [{ present, settle }]);
    });
  }

  has(key: string): boolean {
    return (this.listeners.get(key)?.size ?? 0) > 0 || this.waiters.has(key);
  }

  emit(key: string, event: E): void {
    const set = this.listeners.get(key);
    if (!set) return;
    let plain: string | null = null;
    for (const [c, present] of set) {
      let line: string;
      if (present === asIs) line = plain ??= sseEvent(event);
      else {
        const shown = present(event);
        if (!shown) continue;
        line = sseEvent(shown);
      }
      const held = this.held?.get(c);
      if (held) held.lines.push(line);
      else if (this.held) this.held.set(c, { key, lines: [line] });
      else this.send(key, c, line);
    }
  }

  /**
   * Runs `work` (the messages of one node frame), giving each listener everything it emits as one piece at the end
   * instead of one piece per event: a frame of many output chunks costs each stream one write, in the same order.
   */
  coalesce<T>(work: () => T): T {
    if (this.held) return work();
    this.held = new Map();
    try {
      return work();
    } finally {
      const held = this.held;
      this.held = null;
      for (const [c, { key, lines }] of held) this.send(key, c, lines.join(""));
    }
  }

  /** Ends every stream on `key`, after an optional last event. */
  end(key: string, last?: E): void {
    const waiting = this.waiters.get(key);
    if (waiting) {
      this.waiters.delete(key);
      for (const w of waiting) w.settle(last ? w.present(last) : null);
    }
    if (last) this.emit(key, last);
    const set = this.listeners.get(key);
    if (!set) return;
    for (const c of set.keys()) {
      const held = this.held?.get(c);
      if (held) {
        this.held!.delete(c);
        this.send(key, c, held.lines.join(""));
      }
      try {
        c.close();
      } catch {
        // The reader went away first; nothing to close.
      }
    }
    this.listeners.delete(key);
    this.keepAlive.watch(this.listeners.size > 0);
  }

  private set(key: string): Map<ReadableStreamDefaultController<Uint8Array>, Presenter<E>> {
    let s = this.listeners.get(key);
    if (!s) this.listeners.set(key, (s = new Map()));
    return s;
  }

  private drop(key: string, c: ReadableStreamDefaultController<Uint8Array>): void {
    const s = this.listeners.get(key);
    s?.delete(c);
    if (s && s.size === 0) this.listeners.delete(key);
    this.keepAlive.watch(this.listeners.size > 0);
  }

  private send(key: string, c: ReadableStreamDefaultController<Uint8Array>, text: string): void {
    try {
      c.enqueue(this.encoder.encode(text));
    } catch {
      this.drop(key, c);
    }
  }

  private lines(events: E[], present: Presenter<E>): string {
    let text = "";
    for (const e of events) {
      const shown = present(e);
      if (shown) text += sseEvent(shown);
    }
    return text;
  }
}
