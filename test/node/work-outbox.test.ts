import { afterEach, describe, expect, it, vi } from "vitest";
import { WorkOutbox } from "../../agent/connection/work-outbox.ts";
import { MAX_BATCH_MESSAGES, MAX_CHUNK_BYTES, MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import { NodeToHubMessage, type NodeToHubMessage as Message } from "../../protocol/node-messages.ts";

const WINDOW_MS = 20;

function recorder(ok = true) {
  const frames: Message[] = [];
  const outbox = new WorkOutbox((text, type) => {
    // Every frame is a valid protocol message within the frame limit, as the hub will check.
    const m = JSON.parse(text) as Message;
    expect(NodeToHubMessage.safeParse(m).success).toBe(true);
    expect(m.type).toBe(type);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    frames.push(m);
    return ok;
  }, WINDOW_MS);
  return { frames, outbox };
}

const ack = (id: string): Message => ({ type: "directive_ack", directiveId: id });
const chunk = (id: string, seq: number, text = `line ${seq}\n`): Message => ({ type: "stream_chunk", directiveId: id, seq, chunk: text, stream: "stdout" });
const result = (id: string, chunks: number): Message => ({ type: "result", directiveId: id, success: true, output: "", durationMs: 1, chunks });

/** The messages of the frames, in the order they were sent. */
function flat(frames: Message[]): Message[] {
  return frames.flatMap((f) => (f.type === "batch" ? f.messages : [f]));
}

afterEach(() => vi.useRealTimers());

describe("the agent's work outbox", () => {
  it("sends an ack, output and a result that comes within the window as one frame, at once", () => {
    const { frames, outbox } = recorder();
    outbox.send(ack("d-1"));
    outbox.send(chunk("d-1", 0));
    expect(frames).toEqual([]);
    expect(outbox.send(result("d-1", 1))).toBe(true);
    expect(frames).toEqual([{ type: "batch", messages: [ack("d-1"), chunk("d-1", 0), result("d-1", 1)] }]);
  });

  it("sends what waits when the window ends, and a lone message as itself", () => {
    vi.useFakeTimers();
    const { frames, outbox } = recorder();
    outbox.send(ack("d-1"));
    vi.advanceTimersByTime(WINDOW_MS - 1);
    expect(frames).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(frames).toEqual([ack("d-1")]);
    outbox.send(chunk("d-1", 0));
    outbox.send(chunk("d-1", 1));
    vi.advanceTimersByTime(WINDOW_MS);
    expect(frames[1]).toEqual({ type: "batch", messages: [chunk("d-1", 0), chunk("d-1", 1)] });
    expect(outbox.send(result("d-1", 2))).toBe(true);
    expect(frames[2]).toEqual(result("d-1", 2));
  });

  it("keeps order: any other message sends what waits before itself", () => {
    const { frames, outbox } = recorder();
    outbox.send(ack("d-1"));
    outbox.send({ type: "disconnect", reason: "stopping" });
    expect(frames).toEqual([ack("d-1"), { type: "disconnect", reason: "stopping" }]);
  });

  it("splits what would not fit one frame, in bytes or in messages, without losing or reordering any", () => {
    const { frames, outbox } = recorder();
    const big = "x".repeat(MAX_CHUNK_BYTES);
    const sent: Message[] = [];
    for (let seq = 0; seq < 40; seq++) sent.push(chunk("d-1", seq, big));
    for (let seq = 40; seq < 40 + MAX_BATCH_MESSAGES + 10; seq++) sent.push(chunk("d-1", seq));
    sent.push(result("d-1", sent.length));
    for (const m of sent) outbox.send(m);
    expect(frames.length).toBeGreaterThan(3);
    expect(flat(frames)).toEqual(sent);
    for (const f of frames) if (f.type === "batch") expect(f.messages.length).toBeLessThanOrEqual(MAX_BATCH_MESSAGES);
  });

  it("says a result was not sent when its frame could not be written, and forgets what waits on discard", () => {
    vi.useFakeTimers();
    const failing = recorder(false);
    failing.outbox.send(ack("d-1"));
    expect(failing.outbox.send(result("d-1", 0))).toBe(false);
    const { frames, outbox } = recorder();
    outbox.send(ack("d-2"));
    outbox.discard();
    vi.advanceTimersByTime(WINDOW_MS * 2);
    expect(frames).toEqual([]);
  });
});
