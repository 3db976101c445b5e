import type { DirectiveEvent, DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import type { Presenter } from "./event-streams.ts";

/** A fan-out's whole outcome for a caller who waits for it: its members' results in the order they ended, then the aggregate. */
export interface FanOutAnswer {
  fanoutId: string;
  /** Null only where the caller's presenter withholds it, as their stream would. */
  aggregate: FanOutAggregate | null;
  directives: DirectiveView[];
}

interface Waiter {
  present: Presenter | undefined;
  directives: DirectiveView[];
  settle: (answer: FanOutAnswer) => void;
}

/**
 * Callers waiting for a fan-out's outcome as one JSON answer instead of its event stream: each member's result is
 * kept as that caller's stream would have shown it (the same presenter), and the whole goes back over RPC when the
 * fan-out ends. No per-event bytes are written or parsed for them. A waiter lives exactly until its fan-out ends
 * (every member has a hub-side deadline): the object cannot tell that an RPC caller went away, so one whose client
 * left is settled and dropped at that end like the others.
 */
export class FanOutAnswers {
  private readonly waiting = new Map<string, Waiter[]>();

  /** Registered before anything can end the fan-out, like a stream. */
  wait(fanoutId: string, present?: Presenter): Promise<FanOutAnswer> {
    return new Promise((settle) => {
      const waiter = { present, directives: [], settle };
      const list = this.waiting.get(fanoutId);
      if (list) list.push(waiter);
      else this.waiting.set(fanoutId, [waiter]);
    });
  }

  has(fanoutId: string): boolean {
    return this.waiting.has(fanoutId);
  }

  /** A member ended: its result, as each waiter may see it. */
  result(fanoutId: string, event: DirectiveEvent): void {
    const list = this.waiting.get(fanoutId);
    if (!list) return;
    for (const w of list) {
      const shown = w.present ? w.present(event) : event;
      if (shown?.event === "result") w.directives.push(shown.directive);
    }
  }

  /** The fan-out ended: every waiter gets its answer and is forgotten. */
  end(fanoutId: string, aggregate: FanOutAggregate): void {
    const list = this.waiting.get(fanoutId);
    if (!list) return;
    this.waiting.delete(fanoutId);
    const event: DirectiveEvent = { event: "aggregate", aggregate };
    for (const w of list) {
      const shown = w.present ? w.present(event) : event;
      w.settle({ fanoutId, aggregate: shown?.event === "aggregate" ? shown.aggregate : null, directives: w.directives });
    }
  }
}
