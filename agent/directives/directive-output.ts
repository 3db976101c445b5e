import { StringDecoder } from "node:string_decoder";
import { BATCH_WINDOW_MS, MAX_CHUNK_BYTES, MAX_RESULT_OUTPUT_BYTES, MAX_STORED_OUTPUT_BYTES } from "../../protocol/limits.ts";
import type { OutputSink, OutputStream } from "../actions/action-context.ts";
import type { SendToHub } from "./directive-handler.ts";
import { utf8Head, utf8Pieces } from "./utf8.ts";

/**
 * One directive's output: streamed to the hub as it arrives (numbered chunks, each small enough for a frame) and
 * kept for the result. Output that arrives in small reads within BATCH_WINDOW_MS is coalesced into one chunk (up to
 * MAX_CHUNK_BYTES, one stream per chunk), so a chatty command costs the hub fewer chunks to store and relay. Both are capped, keeping the head and saying so: the result at MAX_RESULT_OUTPUT_BYTES, the
 * stream at MAX_STORED_OUTPUT_BYTES, which is all the hub would store anyway.
 */
export class DirectiveOutput implements OutputSink {
  private seq = 0;
  private readonly kept: string[] = [];
  private keptBytes = 0;
  private totalBytes = 0;
  private cut = false;
  private streamedBytes = 0;
  private streamStopped = false;
  /** Streamed text not sent yet, all of one stream, at most MAX_CHUNK_BYTES. */
  private waiting: { stream: OutputStream; text: string[]; bytes: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly decoders: Record<OutputStream, StringDecoder> = {
    stdout: new StringDecoder("utf8"),
    stderr: new StringDecoder("utf8"),
  };

  constructor(
    private readonly directiveId: string,
    private readonly streaming: boolean,
    private readonly send: SendToHub,
  ) {}

  write(data: Buffer | string, stream: OutputStream = "stdout"): void {
    // A decoder per stream holds back a character split across two reads instead of mangling it.
    this.take(typeof data === "string" ? data : this.decoders[stream].write(data), stream);
  }

  end(): void {
    for (const stream of ["stdout", "stderr"] as const) this.take(this.decoders[stream].end(), stream);
    this.flush();
  }

  /** How many chunks were streamed, so the hub can tell whether any are still on their way. */
  get chunksSent(): number {
    return this.seq;
  }

  get truncated(): boolean {
    return this.cut;
  }

  text(): string {
    const head = this.kept.join("");
    if (!this.cut) return head;
    return `${head}\n[output truncated: the result keeps the first ${this.keptBytes} of ${this.totalBytes} bytes]`;
  }

  private take(text: string, stream: OutputStream): void {
    if (text === "") return;
    const bytes = Buffer.byteLength(text);
    this.totalBytes += bytes;
    if (!this.cut) this.keep(text, bytes);
    if (this.streaming && !this.streamStopped) this.stream(text, bytes, stream);
  }

  private keep(text: string, bytes: number): void {
    const room = MAX_RESULT_OUTPUT_BYTES - this.keptBytes;
    const head = bytes <= room ? text : utf8Head(text, room);
    this.kept.push(head);
    this.keptBytes += bytes <= room ? bytes : Buffer.byteLength(head);
    if (bytes > room) this.cut = true;
  }

  private stream(text: string, bytes: number, stream: OutputStream): void {
    const room = MAX_STORED_OUTPUT_BYTES - this.streamedBytes;
    const piece = bytes <= room ? text : utf8Head(text, room);
    for (const chunk of utf8Pieces(piece, MAX_CHUNK_BYTES)) this.emit(chunk, stream);
    this.streamedBytes += bytes <= room ? bytes : Buffer.byteLength(piece);
    if (bytes > room) {
      this.streamStopped = true;
      this.emit(`\n[output truncated: streaming stopped after ${this.streamedBytes} bytes]\n`, "stderr");
    }
  }

  private emit(chunk: string, stream: OutputStream): void {
    const bytes = Buffer.byteLength(chunk);
    const w = this.waiting;
    if (w && (w.stream !== stream || w.bytes + bytes > MAX_CHUNK_BYTES)) this.flush();
    if (this.waiting) {
      this.waiting.text.push(chunk);
      this.waiting.bytes += bytes;
    } else {
      this.waiting = { stream, text: [chunk], bytes };
      this.timer = setTimeout(() => this.flush(), BATCH_WINDOW_MS);
    }
    if (this.waiting.bytes >= MAX_CHUNK_BYTES) this.flush();
  }

  /** Sends the coalesced chunk waiting, if any. */
  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.waiting;
    this.waiting = null;
    if (w) this.send({ type: "stream_chunk", directiveId: this.directiveId, seq: this.seq++, chunk: w.text.join(""), stream: w.stream });
  }
}
