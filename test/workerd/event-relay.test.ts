import { describe, expect, it } from "vitest";
import { DirectiveEvent } from "../../protocol/api.ts";
import { EventStreams } from "../../durable-objects/site-hub/event-streams.ts";
import { toEventStream } from "../../worker/http/directive-stream.ts";

/**
 * The two ends of a directive's live output: the site object's listeners (newline-delimited JSON, one write per node
 * frame) and the Worker's relay of them as server-sent events. Output chunks of up to 64 KiB arrive in pieces of any
 * size and boundary; every event must come out whole, once, in order.
 */

const chunkEvent = (seq: number, chunk: string): DirectiveEvent => ({ event: "chunk", directiveId: "d-1", nodeId: "n1", seq, chunk, stream: "stdout" });

/** A byte stream that hands out `bytes` in pieces of the given sizes, repeated until the end. */
function piecewise(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      const size = sizes[i++ % sizes.length]!;
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

function ndjson(events: DirectiveEvent[]): Uint8Array {
  return new TextEncoder().encode(events.map((e) => JSON.stringify(e) + "\n").join(""));
}

async function relayed(res: Response): Promise<unknown[]> {
  const text = await res.text();
  expect(text.startsWith(": stream open\n\n")).toBe(true);
  return text
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => JSON.parse(f.slice(6)));
}

/** Everything one listener received, as the events it holds and how many writes carried them. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<{ events: unknown[]; writes: number }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let writes = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    writes += 1;
    text += decoder.decode(value, { stream: true });
  }
  expect(text.endsWith("\n")).toBe(true);
  return { events: text.trimEnd().split("\n").map((l) => JSON.parse(l)), writes };
}

describe("the SSE relay", () => {
  const big = "é".repeat(20_000) + "x".repeat(24_000) + "\n";
  const events = [chunkEvent(0, big), chunkEvent(1, "small"), chunkEvent(2, ""), chunkEvent(3, big), { event: "status", directiveId: "d-1", nodeId: "n1", status: "running" } as DirectiveEvent];

  for (const sizes of [[1, 4096], [7, 4093], [65_536], [1 << 20], [3, 100_000, 2]]) {
    it(`relays every event whole and in order when the stream arrives in pieces of ${sizes.join(", ")} bytes`, async () => {
      const out = await relayed(toEventStream(piecewise(ndjson(events), sizes)));
      expect(out).toEqual(events);
    });
  }

  it("relays the events that arrived together in one write of the response", async () => {
    const reader = toEventStream(piecewise(ndjson(events), [1 << 20])).body!.getReader();
    const writes: string[] = [];
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      writes.push(decoder.decode(value));
    }
    expect(writes[0]).toBe(": stream open\n\n");
    expect(writes.slice(1).filter((w) => w.startsWith("data: ")).map((w) => w.split("\n\n").filter(Boolean).length)).toEqual([events.length]);
  });

  it("fails the stream on a line that is not a directive event, rather than relay it", async () => {
    const bad = new TextEncoder().encode(JSON.stringify(chunkEvent(0, "ok")) + "\n" + JSON.stringify({ event: "chunk", seq: "one" }) + "\n");
    await expect(toEventStream(piecewise(bad, [5])).text()).rejects.toThrow();
  });

  it("drops a last line that never ended, as a stream cut mid-event", async () => {
    const bytes = ndjson([chunkEvent(0, "whole")]);
    const cut = new Uint8Array([...bytes, ...new TextEncoder().encode(JSON.stringify(chunkEvent(1, "cut")).slice(0, 20))]);
    expect(await relayed(toEventStream(piecewise(cut, [9])))).toEqual([chunkEvent(0, "whole")]);
  });
});

describe("event listeners of the site object", () => {
  it("gives each listener a frame's events in one write, in order, and what it alone may see", async () => {
    const streams = new EventStreams();
    const all = streams.open("d-1");
    const fanOut = streams.open("f-1");
    const redacted = streams.open("d-1", (e) => (e.event === "chunk" ? { ...e, chunk: "[hidden]" } : e));
    const none = streams.open("d-1", () => null);
    const other = streams.open("d-2");
    streams.coalesce(() => {
      for (let seq = 0; seq < 5; seq++) {
        streams.emit("d-1", chunkEvent(seq, `c${seq}`));
        streams.emit("f-1", chunkEvent(seq, `c${seq}`));
      }
    });
    streams.end("d-1");
    streams.end("f-1");
    streams.end("d-2");
    const expected = [0, 1, 2, 3, 4].map((seq) => chunkEvent(seq, `c${seq}`));
    expect(await drain(all)).toEqual({ events: expected, writes: 1 });
    expect(await drain(fanOut)).toEqual({ events: expected, writes: 1 });
    expect(await drain(redacted)).toEqual({ events: expected.map((e) => ({ ...e, chunk: "[hidden]" })), writes: 1 });
    expect((await none.getReader().read()).done).toBe(true);
    expect((await other.getReader().read()).done).toBe(true);
  });

  it("writes what a frame emitted before the stream ends in the same frame, last event included", async () => {
    const streams = new EventStreams();
    const stream = streams.open("d-1");
    const last = { event: "status", directiveId: "d-1", nodeId: "n1", status: "done" } as DirectiveEvent;
    streams.coalesce(() => {
      streams.emit("d-1", chunkEvent(0, "a"));
      streams.emit("d-1", chunkEvent(1, "b"));
      streams.end("d-1", last);
      // Nothing reaches a stream after its end, inside the frame or out of it.
      streams.emit("d-1", chunkEvent(2, "late"));
    });
    streams.emit("d-1", chunkEvent(3, "later"));
    expect((await drain(stream)).events).toEqual([chunkEvent(0, "a"), chunkEvent(1, "b"), last]);
  });

  it("writes each event at once outside a frame, and drops a listener that went away", async () => {
    const streams = new EventStreams();
    const stream = streams.open("d-1");
    const gone = streams.open("d-1");
    await gone.cancel();
    streams.emit("d-1", chunkEvent(0, "a"));
    streams.coalesce(() => streams.emit("d-1", chunkEvent(1, "b")));
    streams.emit("d-1", chunkEvent(2, "c"));
    streams.end("d-1");
    expect(await drain(stream)).toEqual({ events: [0, 1, 2].map((s) => chunkEvent(s, "abc"[s]!)), writes: 3 });
    expect(streams.has("d-1")).toBe(false);
  });
});
