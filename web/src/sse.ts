import type { DirectiveEvent } from "../../protocol/api.ts";
import { send } from "./api.ts";

export interface EventStream<E = DirectiveEvent> {
  /** The `X-Cortex-Directive` or `X-Cortex-Fanout` header: what to cancel. */
  id: string | null;
  events: AsyncGenerator<E>;
}

/**
 * POSTs a directive or fan-out asking for server-sent events and yields each event as it arrives. EventSource
 * cannot POST, so the body is read as a stream and split on blank lines here.
 */
export async function postForEvents(path: string, body: unknown, idHeader: string, signal: AbortSignal): Promise<EventStream> {
  const res = await send(path, { body, signal, headers: { Accept: "text/event-stream" } });
  return { id: res.headers.get(idHeader), events: read(res, signal) };
}

/** GETs an event stream (a roost deployment's) and yields each event as it arrives. */
export async function getEvents<E>(path: string, signal: AbortSignal): Promise<AsyncGenerator<E>> {
  const res = await send(path, { signal, headers: { Accept: "text/event-stream" } });
  return read<E>(res, signal);
}

async function* read<E = DirectiveEvent>(res: Response, signal: AbortSignal): AsyncGenerator<E> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const abort = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener("abort", abort, { once: true });
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, "\n");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data) yield JSON.parse(data) as E;
      }
    }
  } finally {
    signal.removeEventListener("abort", abort);
  }
}
