/**
 * Incremental `text/event-stream` parser (WHATWG rules): lines end in CR, LF or CRLF, a blank line dispatches the
 * event, `data:` lines join with "\n", comments and other fields are ignored. Bytes may be split anywhere.
 */
export class SseParser {
  private buffer = "";
  private data: string[] = [];

  /** Feeds decoded text; returns the data of every event completed by it. */
  push(text: string): string[] {
    this.buffer += text;
    const events: string[] = [];
    let start = 0;
    // Where the next CR is, searched again only once passed: with none in the text (the usual case), a search from
    // every line would scan the rest of the text each time, and a read of many events would cost its size squared.
    let cr = this.buffer.indexOf("\r");
    for (;;) {
      if (cr >= 0 && cr < start) cr = this.buffer.indexOf("\r", start);
      const lf = this.buffer.indexOf("\n", start);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) break;
      const line = this.buffer.slice(start, end);
      // A trailing CR may be the first half of a CRLF split across reads: wait for the next byte.
      if (this.buffer[end] === "\r" && end === this.buffer.length - 1) break;
      start = end + (this.buffer.startsWith("\r\n", end) ? 2 : 1);
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): string | undefined {
    if (line === "") {
      if (this.data.length === 0) return undefined;
      const event = this.data.join("\n");
      this.data = [];
      return event;
    }
    if (line.startsWith(":")) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== "data") return undefined;
    const value = colon < 0 ? "" : line.slice(colon + 1);
    this.data.push(value.startsWith(" ") ? value.slice(1) : value);
    return undefined;
  }
}

/**
 * The data of each event of a response body, as the bytes arrive. An unterminated last event is dropped. Stopping
 * early cancels the body, so the connection does not outlive the consumer.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* parser.push(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
