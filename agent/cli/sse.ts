/**
 * Incremental `text/event-stream` parser (WHATWG rules): lines end in CR, LF or CRLF, a blank line dispatches the
 * event, `data:` lines join with "\n", comments and other fields are ignored. Bytes may be split anywhere.
 */
export class SseParser {
  private buffer = "";
  /** How far into `buffer` is known to hold no line end, so a long event arriving over many reads is scanned once. */
  private scanned = 0;
  /**
   * Reads with no line end in them, kept apart until one comes: a 64 KiB event arriving in 4 KiB reads (as through
   * `wrangler dev`'s proxy) is then joined once, not copied again with every read.
   */
  private pieces: string[] = [];
  private data: string[] = [];

  /** Feeds decoded text; returns the data of every event completed by it. */
  push(text: string): string[] {
    // A CR waiting at the end of `buffer` (half of a CRLF, or a line end of its own) needs the next text at once.
    const crWaiting = this.scanned < this.buffer.length;
    if (!crWaiting && text.indexOf("\n") < 0 && text.indexOf("\r") < 0) {
      this.pieces.push(text);
      return [];
    }
    const buffer = this.pieces.length === 0 ? this.buffer + text : this.buffer + this.pieces.join("") + text;
    this.pieces = [];
    const events: string[] = [];
    let start = 0;
    let from = this.scanned;
    // The next CR at or after `from` (-1: none in the buffer), searched again only once passed, so text without CRs
    // (what the hub sends) is searched for them once per read, not once per line.
    let cr = buffer.indexOf("\r", from);
    for (;;) {
      if (cr >= 0 && cr < from) cr = buffer.indexOf("\r", from);
      const lf = buffer.indexOf("\n", from);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) {
        from = buffer.length;
        break;
      }
      // A trailing CR may be the first half of a CRLF split across reads: wait for the next byte.
      if (end === cr && end === buffer.length - 1) {
        from = end;
        break;
      }
      const line = buffer.slice(start, end);
      start = from = end + (end === cr && buffer.charCodeAt(end + 1) === 10 ? 2 : 1);
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    this.buffer = start === 0 ? buffer : buffer.slice(start);
    this.scanned = from - start;
    return events;
  }

  private line(line: string): string | undefined {
    if (line === "") {
      if (this.data.length === 0) return undefined;
      const event = this.data.length === 1 ? this.data[0]! : this.data.join("\n");
      this.data = [];
      return event;
    }
    if (line.charCodeAt(0) === 58) return undefined;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== "data") return undefined;
    const value = colon < 0 ? "" : line.slice(colon + 1);
    this.data.push(value.charCodeAt(0) === 32 ? value.slice(1) : value);
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
