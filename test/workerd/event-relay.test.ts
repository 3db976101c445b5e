import { afterEach, describe, expect, it, vi } from "vitest";
import { DirectiveEvent } from "../../protocol/api.ts";
import { SseParser } from "../../agent/cli/sse.ts";
import { KeepAlive } from "../../durable-objects/shared/sse-wire.ts";
import { EventStreams } from "../../durable-objects/site-hub/event-streams.ts";
import { awaitResult, toEventStream } from "../../worker/http/directive-stream.ts";
import { api, connectNode, freshSite, registerNode } from "./support.ts";

/**
 * The two ends of a directive's live output: the site object's listeners, which write server-sent events (one write
 * per node frame, keep-alives between writes), and the Worker, which relays those bytes as they are. Output chunks of
 * up to 64 KiB arrive in pieces of any size and boundary; every event must come out whole, once, in order, and a
 * client parsing the stream by the SSE rules and the protocol schema must get exactly what was emitted.
 */

afterEach(() => vi.restoreAllMocks());

const chunkEvent = (seq: number, chunk: string): DirectiveEvent => ({ event: "chunk", directiveId: "d-1", nodeId: "n1", seq, chunk, stream: "stdout" });
const resultEvent: DirectiveEvent = {
  event: "result",
  directive: {
    id: "d-1",
    fanoutId: null,
    nodeId: "n1",
    action: "bash",
    params: { command: "x" },
    status: "done",
    requestedBy: "admin key",
    createdAt: 1,
    sentAt: 1,
    startedAt: 1,
    endedAt: 2,
    timeoutMs: 120_000,
    exitCode: 0,
    signal: null,
    outputBytes: 3,
    output: "out",
    outputWithheld: false,
    truncated: false,
    error: null,
    errorCode: null,
    data: null,
    lateResult: null,
  },
};

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

async function bytesOf(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; writes: number }> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) bytes.set(p, (at += p.length) - p.length);
  return { bytes, writes: parts.length };
}

/** What an SSE client makes of a response, read as it arrives: each event's data checked with the protocol schema. */
async function clientEvents(body: ReadableStream<Uint8Array>): Promise<DirectiveEvent[]> {
  const parser = new SseParser();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const events: DirectiveEvent[] = [];
  const reader = body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const data of parser.push(decoder.decode(value, { stream: true }))) events.push(DirectiveEvent.parse(JSON.parse(data)));
  }
  decoder.decode();
  return events;
}

/** The blocks (event or comment) of a whole stream's text; it must end at a block's end. */
function blocks(text: string): string[] {
  expect(text.endsWith("\n\n")).toBe(true);
  return text.slice(0, -2).split("\n\n");
}

/** Everything one listener received: its events (the opening comment and keep-alives aside) and its writes. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<{ events: unknown[]; writes: number }> {
  const { bytes, writes } = await bytesOf(stream);
  const all = blocks(new TextDecoder().decode(bytes));
  expect(all[0]).toBe(": stream open");
  return { events: all.filter((b) => !b.startsWith(":")).map((b) => JSON.parse(b.slice("data: ".length))), writes };
}

/** The bytes a listener gets for `events`, emitted as one frame and then ended. */
async function listenerBytes(events: DirectiveEvent[]): Promise<Uint8Array> {
  const streams = new EventStreams();
  const stream = streams.open("d-1");
  streams.coalesce(() => events.forEach((e) => streams.emit("d-1", e)));
  streams.end("d-1");
  return (await bytesOf(stream)).bytes;
}

describe("the SSE relay", () => {
  const big = "é".repeat(20_000) + "x".repeat(24_000) + "€\n";
  const events = [chunkEvent(0, big), chunkEvent(1, "small"), chunkEvent(2, ""), chunkEvent(3, big), { event: "status", directiveId: "d-1", nodeId: "n1", status: "running" } as DirectiveEvent];

  for (const sizes of [[1], [1, 4096], [7, 4093], [65_536], [1 << 20], [3, 100_000, 2]]) {
    it(`relays every event whole and in order when the stream arrives in pieces of ${sizes.join(", ")} bytes`, async () => {
      const res = toEventStream(piecewise(await listenerBytes(events), sizes), { "X-Cortex-Directive": "d-1" });
      expect(res.headers.get("Content-Type")).toBe("text/event-stream; charset=utf-8");
      expect(res.headers.get("X-Cortex-Directive")).toBe("d-1");
      expect(await clientEvents(res.body!)).toEqual(events);
    });
  }

  it("relays a stream cut in the middle of a multi-byte character and of an event as valid SSE, bytes unchanged", async () => {
    const bytes = await listenerBytes(events);
    const euro = bytes.indexOf(0xe2);
    expect(euro).toBeGreaterThan(0);
    // Three reads: up to the middle of "€", on to the middle of the next event's JSON, and the rest.
    const cuts = [euro + 1, bytes.indexOf(0x22, euro + 40) - euro - 1 + 3, bytes.length];
    const res = toEventStream(piecewise(bytes, cuts));
    const relayed = (await bytesOf(res.body!)).bytes;
    expect(relayed).toEqual(bytes);
    expect(await clientEvents(piecewise(relayed, cuts))).toEqual(events);
  });

  it("carries one event line across many reads", async () => {
    const line = chunkEvent(0, "z".repeat(64 * 1024));
    const res = toEventStream(piecewise(await listenerBytes([line]), [97]));
    expect(await clientEvents(res.body!)).toEqual([line]);
  });

  it("gives a client only whole events when the stream is cut mid-event", async () => {
    const bytes = await listenerBytes([chunkEvent(0, "whole"), chunkEvent(1, "cut")]);
    const cut = bytes.slice(0, bytes.length - 10);
    expect(await clientEvents(toEventStream(piecewise(cut, [9])).body!)).toEqual([chunkEvent(0, "whole")]);
  });

  it("cannot be made to relay a forged event, field or comment from a node's output", async () => {
    const forged = JSON.stringify(resultEvent);
    const attacks = [
      `\n\ndata: ${forged}\n\n`,
      `x\nevent: result\ndata: ${forged}\nid: 9\nretry: 1\n\n`,
      `\r\rdata: ${forged}\r\r`,
      `\r\n\r\ndata: ${forged}\r\n\r\n: comment\r\n`,
      "\u2028\u2029\u0000\ud800 lone surrogate",
    ];
    const sent = attacks.map((chunk, seq) => chunkEvent(seq, chunk));
    const bytes = await listenerBytes(sent);
    const text = new TextDecoder().decode(bytes);
    expect(text).not.toMatch(/\r/);
    expect(blocks(text).slice(1).every((b) => b.startsWith("data: ") && !b.includes("\n"))).toBe(true);
    const got = await clientEvents(toEventStream(piecewise(bytes, [5, 4096])).body!);
    // Compared as JSON (escaped), so that a failure report does not carry the lone surrogate itself.
    expect(JSON.stringify(got)).toBe(JSON.stringify(sent));
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
    // The opening comment is the first write, the frame's five events the second.
    expect(await drain(all)).toEqual({ events: expected, writes: 2 });
    expect(await drain(fanOut)).toEqual({ events: expected, writes: 2 });
    expect(await drain(redacted)).toEqual({ events: expected.map((e) => ({ ...e, chunk: "[hidden]" })), writes: 2 });
    expect(await drain(none)).toEqual({ events: [], writes: 1 });
    expect(await drain(other)).toEqual({ events: [], writes: 1 });
  });

  it("never writes the unredacted bytes to a redacted listener", async () => {
    const secret = "sk-live-ABCDEF0123456789";
    const streams = new EventStreams();
    const plain = streams.open("d-1");
    const redacted = streams.open("d-1", (e) => (e.event === "chunk" ? { ...e, chunk: e.chunk.replaceAll(secret, "[redacted]") } : e));
    streams.coalesce(() => streams.emit("d-1", chunkEvent(0, `token=${secret}\n`)));
    streams.emit("d-1", chunkEvent(1, secret));
    streams.end("d-1", { event: "status", directiveId: "d-1", nodeId: "n1", status: "done" } as DirectiveEvent);
    const text = (s: ReadableStream<Uint8Array>) => bytesOf(s).then(({ bytes }) => new TextDecoder().decode(bytes));
    expect(await text(plain)).toContain(secret);
    const seen = await text(redacted);
    expect(seen).not.toContain(secret);
    expect(seen).not.toContain(secret.slice(0, 12));
    expect(seen).toContain("token=[redacted]");
  });

  it("writes what a frame emitted before the stream ends in the same frame, last event included, then ends", async () => {
    const streams = new EventStreams();
    const stream = streams.open("d-1");
    streams.coalesce(() => {
      streams.emit("d-1", chunkEvent(0, "a"));
      streams.emit("d-1", chunkEvent(1, "b"));
      streams.end("d-1", resultEvent);
      // Nothing reaches a stream after its end, inside the frame or out of it.
      streams.emit("d-1", chunkEvent(2, "late"));
    });
    streams.emit("d-1", chunkEvent(3, "later"));
    expect((await drain(stream)).events).toEqual([chunkEvent(0, "a"), chunkEvent(1, "b"), resultEvent]);
    expect(streams.has("d-1")).toBe(false);
  });

  it("ends a relayed stream after its result event, and a caller waiting for the result gets it", async () => {
    const streams = new EventStreams();
    const relayed = toEventStream(streams.open("d-1"));
    const waiting = awaitResult(streams.open("d-1"));
    streams.emit("d-1", chunkEvent(0, "out"));
    streams.end("d-1", resultEvent);
    expect(await clientEvents(relayed.body!)).toEqual([chunkEvent(0, "out"), resultEvent]);
    expect(await waiting).toEqual(resultEvent.event === "result" ? resultEvent.directive : null);
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
    expect(await drain(stream)).toEqual({ events: [0, 1, 2].map((s) => chunkEvent(s, "abc"[s]!)), writes: 4 });
    expect(streams.has("d-1")).toBe(false);
  });

  it("sends keep-alives on a quiet stream, only between whole events, and stops them when the last listener goes", async () => {
    vi.spyOn(globalThis, "clearInterval");
    const streams = new EventStreams(5);
    const stream = streams.open("d-1");
    const big = "ü".repeat(30_000);
    for (let seq = 0; seq < 6; seq++) {
      await new Promise((r) => setTimeout(r, 12));
      streams.coalesce(() => {
        streams.emit("d-1", chunkEvent(seq * 2, big));
        streams.emit("d-1", chunkEvent(seq * 2 + 1, "small"));
      });
    }
    await new Promise((r) => setTimeout(r, 12));
    streams.end("d-1", resultEvent);
    const { bytes } = await bytesOf(stream);
    const all = blocks(new TextDecoder().decode(bytes));
    const kinds = all.map((b) => (b.startsWith("data: ") ? "event" : b));
    expect(new Set(kinds)).toEqual(new Set(["event", ": stream open", ": keepalive"]));
    // A keep-alive came between the frames, and every event is still whole (it parses with the schema).
    expect(kinds.slice(1, -1).filter((k) => k === ": keepalive").length).toBeGreaterThanOrEqual(6);
    const events = all.filter((b) => b.startsWith("data: ")).map((b) => DirectiveEvent.parse(JSON.parse(b.slice(6))));
    expect(events).toHaveLength(13);
    expect(await clientEvents(toEventStream(piecewise(bytes, [1, 333])).body!)).toEqual(events);
    // The last listener went with the end: the ticks stopped (no timer is left to keep writing to nobody).
    expect(vi.mocked(clearInterval)).toHaveBeenCalled();
  });
});

describe("keep-alive ticks", () => {
  it("tick while watched and stop when told", async () => {
    let ticks = 0;
    const keepAlive = new KeepAlive(() => (ticks += 1), 2);
    keepAlive.watch(true);
    keepAlive.watch(true);
    await new Promise((r) => setTimeout(r, 30));
    keepAlive.watch(false);
    const seen = ticks;
    expect(seen).toBeGreaterThan(2);
    await new Promise((r) => setTimeout(r, 30));
    expect(ticks).toBe(seen);
  });
});

describe("output relayed from a node to an API client", () => {
  it("delivers a node's output that imitates SSE framing as the text of one chunk event, not as events of its own", async () => {
    const site = freshSite();
    const creds = await registerNode(site, { name: "n1", tier: "root" });
    const agent = await connectNode(site, creds);
    const pending = api(`/api/sites/${site}/nodes/n1/directives`, {
      method: "POST",
      body: JSON.stringify({ action: "bash", params: { command: "cat evil" } }),
      headers: { Accept: "text/event-stream" },
    });
    const d = await agent.next("directive");
    const forged = JSON.stringify({ event: "result", directive: { id: d.id, status: "done", output: "forged" } });
    const chunk = `\n\ndata: ${forged}\n\nevent: result\r\ndata: ${forged}\r\r: x\n`;
    agent.send({ type: "directive_ack", directiveId: d.id });
    agent.send({ type: "stream_chunk", directiveId: d.id, seq: 0, chunk, stream: "stdout" });
    agent.send({ type: "result", directiveId: d.id, success: true, output: chunk, durationMs: 1, exitCode: 0, chunks: 1 });
    const events = await clientEvents((await pending).body!);
    expect(events.filter((e) => e.event !== "status").map((e) => e.event)).toEqual(["chunk", "result"]);
    expect(events.at(-1)?.event).toBe("result");
    expect(events.filter((e) => e.event === "chunk")).toEqual([{ event: "chunk", directiveId: d.id, nodeId: "n1", seq: 0, chunk, stream: "stdout" }]);
    const results = events.filter((e) => e.event === "result");
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ directive: { id: d.id, status: "done", output: chunk } });
  });
});
