import { BATCH_WINDOW_MS, MAX_BATCH_MESSAGES, MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import type { BatchedMessage, NodeToHubMessage } from "../../protocol/node-messages.ts";

/** Room for the `batch` envelope and the commas between its messages. */
const ENVELOPE_BYTES = 64;

function held(message: NodeToHubMessage): message is Exclude<BatchedMessage, { type: "result" }> {
  return message.type === "directive_ack" || message.type === "stream_chunk" || message.type === "directive_progress";
}

/**
 * What the agent sends about directives, gathered into `batch` frames: acks, output and progress wait up to
 * BATCH_WINDOW_MS; a result goes at once with everything waiting before it. A directive that ends within the window
 * reaches the hub as one frame (ack, output, result), which the hub records in one commit instead of three; a longer
 * one has its ack and output delayed by the window at most. Order is kept: anything else flushes what waits first.
 */
export class WorkOutbox {
  /** The JSON text of each waiting message: serialised once, to measure it and to send it. */
  private queue: { text: string; type: BatchedMessage["type"] }[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** Writes one frame (its JSON text, and its message type for a log); false when it could not be sent. */
    private readonly write: (frame: string, type: NodeToHubMessage["type"]) => boolean,
    private readonly windowMs = BATCH_WINDOW_MS,
  ) {}

  send(message: NodeToHubMessage): boolean {
    if (held(message)) {
      this.enqueue(message);
      this.timer ??= setTimeout(() => this.flush(), this.windowMs);
      return true;
    }
    if (message.type === "result") {
      this.enqueue(message);
      return this.flush();
    }
    this.flush();
    return this.write(JSON.stringify(message), message.type);
  }

  /** Sends everything waiting, in one frame; false when it could not be sent (it is lost, as on a dropped socket). */
  flush(): boolean {
    const waiting = this.queue;
    this.discard();
    if (waiting.length === 0) return true;
    // The same text as JSON.stringify({ type: "batch", messages }), without serialising each output chunk again.
    if (waiting.length === 1) return this.write(waiting[0]!.text, waiting[0]!.type);
    return this.write(`{"type":"batch","messages":[${waiting.map((m) => m.text).join(",")}]}`, "batch");
  }

  /** Forgets what waits without sending it: the connection is gone. */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.queuedBytes = 0;
  }

  /** Queues a message, first sending what waits when the two would not fit one frame together. */
  private enqueue(message: BatchedMessage): void {
    const text = JSON.stringify(message);
    const bytes = Buffer.byteLength(text) + 1;
    if (this.queue.length >= MAX_BATCH_MESSAGES || this.queuedBytes + bytes + ENVELOPE_BYTES > MAX_FRAME_BYTES) this.flush();
    this.queue.push({ text, type: message.type });
    this.queuedBytes += bytes;
  }
}
