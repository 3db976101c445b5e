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
  private queue: BatchedMessage[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** Writes one frame; false when it could not be sent. */
    private readonly write: (message: NodeToHubMessage) => boolean,
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
    return this.write(message);
  }

  /** Sends everything waiting, in one frame; false when it could not be sent (it is lost, as on a dropped socket). */
  flush(): boolean {
    const waiting = this.queue;
    this.discard();
    if (waiting.length === 0) return true;
    return this.write(waiting.length === 1 ? waiting[0]! : { type: "batch", messages: waiting });
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
    const bytes = Buffer.byteLength(JSON.stringify(message)) + 1;
    if (this.queue.length >= MAX_BATCH_MESSAGES || this.queuedBytes + bytes + ENVELOPE_BYTES > MAX_FRAME_BYTES) this.flush();
    this.queue.push(message);
    this.queuedBytes += bytes;
  }
}
