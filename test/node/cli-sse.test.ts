import { describe, expect, it } from "vitest";
import { SseParser, sseData } from "../../agent/cli/sse.ts";

const STREAM =
  ": stream open\r\n\r\n" +
  'data: {"a":1}\r\n\r\n' +
  "event: ignored\nid: 7\ndata:no-space\n\n" +
  "data: line one\ndata: line two\n\n" +
  ": keepalive\n\n" +
  "retry: 100\r\r" +
  "data: héllo ✓\r\n\r\n" +
  "data\n\n";
const EXPECTED = ['{"a":1}', "no-space", "line one\nline two", "héllo ✓", ""];

function parseAll(pieces: string[]): string[] {
  const parser = new SseParser();
  return pieces.flatMap((piece) => parser.push(piece));
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
}

async function collect(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of sseData(body)) out.push(data);
  return out;
}

describe("SSE parsing", () => {
  it("parses data, multi-line data, comments, other fields and CR, LF and CRLF line ends", () => {
    expect(parseAll([STREAM])).toEqual(EXPECTED);
  });

  it("gives the same events wherever the text is split in two, including between CR and LF", () => {
    for (let i = 0; i <= STREAM.length; i++) {
      expect(parseAll([STREAM.slice(0, i), STREAM.slice(i)]), `split at ${i}`).toEqual(EXPECTED);
    }
  });

  it("gives the same events when fed one character at a time", () => {
    expect(parseAll([...STREAM])).toEqual(EXPECTED);
  });

  it("reads a byte stream split inside multi-byte characters and drops an unterminated last event", async () => {
    const bytes = new TextEncoder().encode(STREAM + "data: cut off");
    const oneByteChunks = [...bytes].map((b) => Uint8Array.of(b));
    expect(await collect(streamOf(oneByteChunks))).toEqual(EXPECTED);
    const threeWay = [bytes.slice(0, 40), bytes.slice(40, 41), bytes.slice(41)];
    expect(await collect(streamOf(threeWay))).toEqual(EXPECTED);
  });

  it("gives an event as soon as the read that completes it arrives, even when a CR waited for its next character", () => {
    const parser = new SseParser();
    expect(parser.push("data: x")).toEqual([]);
    expect(parser.push(" and more")).toEqual([]);
    expect(parser.push("\r\r")).toEqual([]);
    // The second CR may be half of a CRLF until this read, which has no line end of its own, shows it was not.
    expect(parser.push("data: y")).toEqual(["x and more"]);
    expect(parser.push("\n\n")).toEqual(["y"]);
  });

  it("gives the same events for a long event over many reads and many events in one read, whatever the line ends", () => {
    const long = "x".repeat(200_000);
    const text = (eol: string): string =>
      `data: ${long}${eol}${eol}` + Array.from({ length: 500 }, (_, i) => `data: ${i}${eol}: c${eol}${eol}`).join("") + `data: ${long}${eol}${eol}: end\n`;
    // The closing comment lets a last CR dispatch: a CR at the end of what arrived may be half of a CRLF.
    const expected = [long, ...Array.from({ length: 500 }, (_, i) => String(i)), long];
    for (const eol of ["\n", "\r", "\r\n"]) {
      const all = text(eol);
      for (const size of [1_000, 4_093, 65_536]) {
        const pieces: string[] = [];
        for (let i = 0; i < all.length; i += size) pieces.push(all.slice(i, i + size));
        expect(parseAll(pieces), `${JSON.stringify(eol)} in pieces of ${size}`).toEqual(expected);
      }
      expect(parseAll([all])).toEqual(expected);
    }
  });
});
