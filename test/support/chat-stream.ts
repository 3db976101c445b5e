import { ChatEvent } from "../../protocol/chat.ts";

/**
 * A conversation's event stream (`GET .../events`, server-sent events), collected as it arrives, for tests in
 * workerd and in Node alike. Waits look at everything received so far, so an event that came before the wait counts.
 */
export class ChatStream {
  readonly events: ChatEvent[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;

  private readonly reader: ReadableStreamDefaultReader<string>;

  constructor(body: ReadableStream<Uint8Array>) {
    this.reader = body.pipeThrough(new TextDecoderStream()).getReader();
    void this.pump();
  }

  private async pump(): Promise<void> {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (data) this.events.push(ChatEvent.parse(JSON.parse(data.slice(6))));
        }
        this.wake();
      }
    } catch {
      // Cancelled by close().
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The first event (already received or still to come) that satisfies `pred`. */
  async until<T extends ChatEvent>(pred: (e: ChatEvent) => e is T, what: string, timeoutMs?: number): Promise<T>;
  async until(pred: (e: ChatEvent) => boolean, what: string, timeoutMs?: number): Promise<ChatEvent>;
  async until(pred: (e: ChatEvent) => boolean, what: string, timeoutMs = 10_000): Promise<ChatEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(pred);
      if (found) return found;
      if (this.ended) throw new Error(`the event stream ended before ${what}; got ${this.summary()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.summary()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The `done` event of the answer in progress (the next one not seen by an earlier call). */
  async done(timeoutMs = 10_000): Promise<Extract<ChatEvent, { type: "done" }>> {
    const seen = this.doneSeen;
    const event = await this.until((e): e is Extract<ChatEvent, { type: "done" }> => e.type === "done" && this.events.filter((x) => x.type === "done").indexOf(e) >= seen, "the answer's end", timeoutMs);
    this.doneSeen += 1;
    return event;
  }
  private doneSeen = 0;

  of<K extends ChatEvent["type"]>(type: K): Extract<ChatEvent, { type: K }>[] {
    return this.events.filter((e): e is Extract<ChatEvent, { type: K }> => e.type === type);
  }

  summary(): string {
    return JSON.stringify(this.events.map((e) => (e.type === "text" ? `text:${e.delta}` : e.type === "done" ? `done:${e.status}` : e.type))).slice(0, 1500);
  }

  async close(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}
