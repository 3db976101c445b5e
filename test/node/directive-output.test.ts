import { afterEach, describe, expect, it, vi } from "vitest";
import { DirectiveOutput } from "../../agent/directives/directive-output.ts";
import { BATCH_WINDOW_MS, MAX_CHUNK_BYTES } from "../../protocol/limits.ts";
import type { NodeToHubMessage } from "../../protocol/node-messages.ts";

type Chunk = Extract<NodeToHubMessage, { type: "stream_chunk" }>;

function output() {
  const chunks: Chunk[] = [];
  const out = new DirectiveOutput("d-1", true, (m) => {
    if (m.type === "stream_chunk") chunks.push(m);
    return true;
  });
  return { chunks, out };
}

afterEach(() => vi.useRealTimers());

describe("a directive's streamed output", () => {
  it("coalesces many small writes into one chunk, with nothing lost or reordered", () => {
    const { chunks, out } = output();
    const lines = Array.from({ length: 1_000 }, (_, i) => `line ${i}\n`);
    for (const line of lines) out.write(Buffer.from(line));
    expect(chunks).toEqual([]);
    out.end();
    expect(chunks).toEqual([{ type: "stream_chunk", directiveId: "d-1", seq: 0, chunk: lines.join(""), stream: "stdout" }]);
    expect(out.chunksSent).toBe(1);
    expect(out.text()).toBe(lines.join(""));
  });

  it("starts a new chunk when the stream changes or the chunk is full, numbering them in order", () => {
    const { chunks, out } = output();
    out.write("a", "stdout");
    out.write("b", "stderr");
    out.write("c", "stdout");
    const big = "x".repeat(MAX_CHUNK_BYTES - 10);
    out.write(big);
    out.write("y".repeat(20));
    out.end();
    expect(chunks.map((c) => [c.seq, c.stream, c.chunk.length])).toEqual([
      [0, "stdout", 1],
      [1, "stderr", 1],
      [2, "stdout", 1 + big.length],
      [3, "stdout", 20],
    ]);
    for (const c of chunks) expect(Buffer.byteLength(c.chunk)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
  });

  it("sends what waits once the window ends, while the command still runs", () => {
    vi.useFakeTimers();
    const { chunks, out } = output();
    out.write("first\n");
    vi.advanceTimersByTime(BATCH_WINDOW_MS - 1);
    expect(chunks).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(chunks.map((c) => c.chunk)).toEqual(["first\n"]);
    out.write("second\n");
    out.end();
    expect(chunks.map((c) => [c.seq, c.chunk])).toEqual([
      [0, "first\n"],
      [1, "second\n"],
    ]);
  });
});
