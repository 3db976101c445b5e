import type { TimedEvent } from "./hub-api.ts";
import { waitFor } from "./wait-for.ts";

export type ResultEvent = Extract<TimedEvent, { event: "result" }>;

/** Reads a directive's event stream in the background, so a test can act (cancel, kill) while it is open. */
export class EventCollector {
  readonly events: TimedEvent[] = [];
  readonly done: Promise<void>;

  constructor(stream: AsyncGenerator<TimedEvent>) {
    this.done = (async () => {
      for await (const event of stream) this.events.push(event);
    })();
    this.done.catch(() => undefined);
  }

  /** The directive id, from the first event that names it. */
  directiveId(): Promise<string> {
    return waitFor("the hub to name the directive", () => {
      for (const e of this.events) if (e.event !== "aggregate") return e.event === "result" ? e.directive.id : e.directiveId;
      return undefined;
    });
  }

  async result(timeoutMs = 60_000): Promise<ResultEvent> {
    return waitFor("the directive's result event", () => this.events.find((e): e is ResultEvent => e.event === "result"), { timeoutMs, intervalMs: 50 });
  }
}
