import type { DirectiveEvent } from "../../protocol/api.ts";

/**
 * Live listeners for directives and fan-outs (and, with their own event type, roost deployments). Each listener is a byte stream of newline-delimited JSON events
 * returned over RPC to the Worker, which turns it into server-sent events or waits for the final one.
 * Listeners live in memory only: an open stream keeps the object awake, and the stored records are the truth.
 */
export class EventStreams<E = DirectiveEvent> {
  private readonly listeners = new Map<string, Set<ReadableStreamDefaultController<Uint8Array>>>();
  private readonly encoder = new TextEncoder();

  /** Opens a stream on `key` (a directive or fan-out id); `first` events are queued before anything live. */
  open(key: string, first: E[] = []): ReadableStream<Uint8Array> {
    let ctrl: ReadableStreamDefaultController<Uint8Array>;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        ctrl = controller;
        for (const e of first) controller.enqueue(this.encode(e));
        this.set(key).add(controller);
      },
      cancel: () => this.drop(key, ctrl),
    });
  }

  has(key: string): boolean {
    return (this.listeners.get(key)?.size ?? 0) > 0;
  }

  emit(key: string, event: E): void {
    const set = this.listeners.get(key);
    if (!set) return;
    const bytes = this.encode(event);
    for (const c of set) {
      try {
        c.enqueue(bytes);
      } catch {
        this.drop(key, c);
      }
    }
  }

  /** Ends every stream on `key`, after an optional last event. */
  end(key: string, last?: E): void {
    if (last) this.emit(key, last);
    const set = this.listeners.get(key);
    if (!set) return;
    for (const c of set) {
      try {
        c.close();
      } catch {
        // The reader went away first; nothing to close.
      }
    }
    this.listeners.delete(key);
  }

  private set(key: string): Set<ReadableStreamDefaultController<Uint8Array>> {
    let s = this.listeners.get(key);
    if (!s) this.listeners.set(key, (s = new Set()));
    return s;
  }

  private drop(key: string, c: ReadableStreamDefaultController<Uint8Array>): void {
    const s = this.listeners.get(key);
    s?.delete(c);
    if (s && s.size === 0) this.listeners.delete(key);
  }

  private encode(e: E): Uint8Array {
    return this.encoder.encode(JSON.stringify(e) + "\n");
  }
}
