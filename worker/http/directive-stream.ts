import type { z } from "zod";
import { DirectiveEvent, type DirectiveView, type FanOutAggregate } from "../../protocol/api.ts";

/** Keeps proxies (Cloudflare drops idle connections at 100 s) from closing a quiet event stream. */
const KEEPALIVE_MS = 20_000;

/**
 * Reads newline-delimited JSON events from a Durable Object stream, each checked with its protocol schema, as the
 * events of each read. Only the text that just arrived is searched for a line end, and a line that spans many reads
 * is joined once: a large output chunk (one event line of up to 64 KiB, arriving a few KiB at a time) costs time in
 * proportion to its size.
 */
async function* eventBatches<E>(stream: ReadableStream<Uint8Array>, schema: z.ZodType<E>): AsyncGenerator<E[]> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let partial: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const batch: E[] = [];
    let from = 0;
    let nl: number;
    while ((nl = value.indexOf("\n", from)) >= 0) {
      partial.push(value.slice(from, nl));
      const line = partial.join("");
      partial = [];
      from = nl + 1;
      if (line) batch.push(schema.parse(JSON.parse(line)));
    }
    if (from < value.length) partial.push(value.slice(from));
    if (batch.length) yield batch;
  }
}

async function* events<E = DirectiveEvent>(stream: ReadableStream<Uint8Array>, schema: z.ZodType<E> = DirectiveEvent as unknown as z.ZodType<E>): AsyncGenerator<E> {
  for await (const batch of eventBatches(stream, schema)) yield* batch;
}

/**
 * Relays the events as server-sent events, one JSON object per `data:` line, with keep-alive comments. The events
 * that arrived together (a node frame's output chunks) go out as one write.
 */
export function toEventStream<E = DirectiveEvent>(stream: ReadableStream<Uint8Array>, headers: Record<string, string> = {}, schema?: z.ZodType<E>): Response {
  const encoder = new TextEncoder();
  const source = eventBatches(stream, schema ?? (DirectiveEvent as unknown as z.ZodType<E>));
  let timer: ReturnType<typeof setInterval> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(": stream open\n\n"));
      timer = setInterval(() => controller.enqueue(encoder.encode(": keepalive\n\n")), KEEPALIVE_MS);
    },
    async pull(controller) {
      const { value, done } = await source.next();
      if (done) {
        clearInterval(timer);
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(value.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("")));
    },
    async cancel() {
      clearInterval(timer);
      await source.return(undefined);
    },
  });
  return new Response(body, {
    headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform", ...headers },
  });
}

/** Waits for a single directive's result event. */
export async function awaitResult(stream: ReadableStream<Uint8Array>): Promise<DirectiveView | null> {
  for await (const e of events(stream)) if (e.event === "result") return e.directive;
  return null;
}

/** Waits for a fan-out to finish: every member's result, then the aggregate. */
export async function awaitFanOut(stream: ReadableStream<Uint8Array>): Promise<{ aggregate: FanOutAggregate | null; directives: DirectiveView[] }> {
  const directives: DirectiveView[] = [];
  let aggregate: FanOutAggregate | null = null;
  for await (const e of events(stream)) {
    if (e.event === "result") directives.push(e.directive);
    if (e.event === "aggregate") aggregate = e.aggregate;
  }
  return { aggregate, directives };
}
