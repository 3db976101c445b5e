import { signal, type Signal } from "@preact/signals";
import type { DirectiveRequest, DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import type { DirectiveStatus } from "../../protocol/directives.ts";
import { AnsiRenderer, type Segment } from "./ansi.ts";
import { messageOf, request } from "./api.ts";
import { postForEvents } from "./sse.ts";

/** One directive's progress as the browser sees it. */
export interface RunView {
  nodeId: string;
  directiveId: string | null;
  status: DirectiveStatus | "starting";
  segments: Segment[];
  result: DirectiveView | null;
}

/** Output a result carries that did not arrive as chunks (file reads, searches), as text. */
function resultText(result: DirectiveView): string {
  const parts: string[] = [];
  if (result.output) parts.push(result.output);
  if (result.data?.kind === "image") parts.push(`[${result.data.mediaType} image, ${Math.round((result.data.base64.length * 3) / 4 / 1024)} KiB, not shown]`);
  if (result.data?.kind === "run") parts.push(`[started run ${result.data.runId}]`);
  return parts.join("\n");
}

class Tracker {
  readonly renderers = new Map<string, AnsiRenderer>();
  readonly streamed = new Set<string>();

  constructor(private readonly views: Signal<Record<string, RunView>>) {}

  update(nodeId: string, patch: (v: RunView) => RunView): void {
    const prev = this.views.value[nodeId] ?? { nodeId, directiveId: null, status: "starting", segments: [], result: null };
    this.views.value = { ...this.views.value, [nodeId]: patch(prev) };
  }

  renderer(nodeId: string): AnsiRenderer {
    let r = this.renderers.get(nodeId);
    if (!r) this.renderers.set(nodeId, (r = new AnsiRenderer()));
    return r;
  }
}

/**
 * Runs a directive on one node, or a fan-out on many, through the SSE API and keeps per-node views as signals:
 * status, output segments (ANSI colours kept as classes), the final record, and a fan-out's aggregate.
 */
export class DirectiveRun {
  readonly views = signal<Record<string, RunView>>({});
  readonly aggregate = signal<FanOutAggregate | null>(null);
  readonly running = signal(false);
  readonly error = signal("");
  /** The directive or fan-out id, from the response header, for cancel. */
  readonly id = signal<string | null>(null);
  private controller: AbortController | null = null;

  async start(path: string, body: DirectiveRequest & Record<string, unknown>, idHeader: "X-Cortex-Directive" | "X-Cortex-Fanout", firstNode?: string): Promise<void> {
    this.stop();
    const controller = new AbortController();
    this.controller = controller;
    this.views.value = firstNode ? { [firstNode]: { nodeId: firstNode, directiveId: null, status: "starting", segments: [], result: null } } : {};
    this.aggregate.value = null;
    this.error.value = "";
    this.id.value = null;
    this.running.value = true;
    const t = new Tracker(this.views);
    try {
      const stream = await postForEvents(path, body, idHeader, controller.signal);
      this.id.value = stream.id;
      for await (const e of stream.events) {
        switch (e.event) {
          case "status":
            t.update(e.nodeId, (v) => ({ ...v, directiveId: e.directiveId, status: e.status }));
            break;
          case "chunk": {
            t.streamed.add(e.directiveId);
            const segs = t.renderer(e.nodeId).push(e.chunk);
            t.update(e.nodeId, (v) => ({ ...v, directiveId: e.directiveId, segments: v.segments.concat(segs) }));
            break;
          }
          case "result": {
            const d = e.directive;
            const tail = t.renderer(d.nodeId).flush();
            const extra = t.streamed.has(d.id) ? [] : t.renderer(d.nodeId).push(resultText(d)).concat(t.renderer(d.nodeId).flush());
            t.update(d.nodeId, (v) => ({ ...v, directiveId: d.id, status: d.status, result: d, segments: v.segments.concat(tail, extra) }));
            break;
          }
          case "aggregate":
            this.aggregate.value = e.aggregate;
            break;
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) this.error.value = messageOf(err);
    } finally {
      if (this.controller === controller) {
        this.running.value = false;
        this.controller = null;
      }
    }
  }

  /** Asks the hub to cancel; the stream then ends with the cancelled record. */
  async cancel(cancelPath: string): Promise<void> {
    try {
      await request(cancelPath, { method: "POST" });
    } catch (err) {
      this.error.value = messageOf(err);
    }
  }

  /** Stops watching (leaving the page); the directive itself goes on unless cancelled. */
  stop(): void {
    this.controller?.abort();
    this.controller = null;
    this.running.value = false;
  }
}
