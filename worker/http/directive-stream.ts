import { DirectiveEvent, type DirectiveView, type FanOutAggregate } from "../../protocol/api.ts";

/**
 * Relays a listener stream of a Durable Object as the response. The object wrote it as server-sent events
 * (`durable-objects/shared/sse-wire.ts`), from events it checked and presented for this caller, with its own
 * keep-alives between whole events; the bytes go out as they are, without being decoded here. Clients parse each
 * event with its protocol schema.
 */
export function toEventStream(stream: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Response {
  return new Response(stream, {
    headers: { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform", ...headers },
  });
}

/**
 * The JSON of each event of a listener stream, for callers inside the hub that wait for its end. The object writes
 * each event as one `data:` line and comments as `:` lines, so a line is all this needs; only the text that just
 * arrived is searched for a line end, and a line that spans many reads is joined once.
 */
async function* eventData(stream: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let partial: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    let from = 0;
    let nl: number;
    while ((nl = value.indexOf("\n", from)) >= 0) {
      partial.push(value.slice(from, nl));
      const line = partial.join("");
      partial = [];
      from = nl + 1;
      if (line.startsWith("data: ")) yield JSON.parse(line.slice(6));
    }
    if (from < value.length) partial.push(value.slice(from));
  }
}

/** The events that end something (a result, an aggregate), checked with the schema; the others are passed over. */
async function* endings(stream: ReadableStream<Uint8Array>): AsyncGenerator<DirectiveEvent> {
  for await (const data of eventData(stream)) {
    const kind = typeof data === "object" && data !== null ? (data as { event?: unknown }).event : undefined;
    if (kind === "result" || kind === "aggregate") yield DirectiveEvent.parse(data);
  }
}

/** Waits for a single directive's result event. */
export async function awaitResult(stream: ReadableStream<Uint8Array>): Promise<DirectiveView | null> {
  for await (const e of endings(stream)) if (e.event === "result") return e.directive;
  return null;
}

/** Waits for a fan-out to finish: every member's result, then the aggregate. */
export async function awaitFanOut(stream: ReadableStream<Uint8Array>): Promise<{ aggregate: FanOutAggregate | null; directives: DirectiveView[] }> {
  const directives: DirectiveView[] = [];
  let aggregate: FanOutAggregate | null = null;
  for await (const e of endings(stream)) {
    if (e.event === "result") directives.push(e.directive);
    if (e.event === "aggregate") aggregate = e.aggregate;
  }
  return { aggregate, directives };
}
