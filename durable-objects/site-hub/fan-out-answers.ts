import type { DirectiveEvent, DirectiveView, FanOutAggregate, FanOutResponse } from "../../protocol/api.ts";
import { FAN_OUT_ANSWER_MEMBER_CHARS, MAX_FAN_OUT_ANSWER_CHARS } from "../../protocol/limits.ts";
import type { Presenter } from "./event-streams.ts";

/** A fan-out's whole outcome for a caller who waits for it: its members' results in the order they ended, then the aggregate. */
export type FanOutAnswer = FanOutResponse;

interface Waiter {
  present: Presenter | undefined;
  directives: DirectiveView[];
  outputOmitted: string[];
  /** Characters the answer may still take (see `MAX_FAN_OUT_ANSWER_CHARS`). */
  room: number;
  settle: (answer: FanOutAnswer) => void;
}

/** What a member's record costs in an answer, output aside. */
function recordChars(view: DirectiveView, paramsChars: number): number {
  return FAN_OUT_ANSWER_MEMBER_CHARS + paramsChars + (view.error?.length ?? 0) + (view.data ? JSON.stringify(view.data).length : 0);
}

/**
 * Callers waiting for a fan-out's outcome as one JSON answer instead of its event stream: each member's result is
 * kept as that caller's stream would have shown it (the same presenter), and the whole goes back over RPC when the
 * fan-out ends. No per-event bytes are written or parsed for them. A waiter lives exactly until its fan-out ends
 * (every member has a hub-side deadline): the object cannot tell that an RPC caller went away, so one whose client
 * left is settled and dropped at that end like the others.
 *
 * An answer is bounded: members' records always go in (a fan-out too large for them is refused before it starts,
 * `fitsAnswer`), their outputs while there is room, in the order they ended; an output left out is named in
 * `outputOmitted` and stays readable with the directive.
 */
export class FanOutAnswers {
  private readonly waiting = new Map<string, Waiter[]>();

  /** Whether `members` records carrying `params` (as records show them) fit in one answer, outputs aside. */
  static fitsAnswer(members: number, params: Record<string, unknown>): boolean {
    return members * (FAN_OUT_ANSWER_MEMBER_CHARS + JSON.stringify(params).length) <= MAX_FAN_OUT_ANSWER_CHARS;
  }

  /** Registered before anything can end the fan-out, like a stream. */
  wait(fanoutId: string, present?: Presenter): Promise<FanOutAnswer> {
    return new Promise((settle) => {
      const waiter: Waiter = { present, directives: [], outputOmitted: [], room: MAX_FAN_OUT_ANSWER_CHARS, settle };
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
    // Every member of a fan-out carries the same params: measured once per result, not per waiter.
    let paramsChars: number | undefined;
    for (const w of list) {
      const shown = w.present ? w.present(event) : event;
      if (shown?.event !== "result") continue;
      const view = shown.directive;
      paramsChars ??= JSON.stringify(view.params).length;
      w.room -= recordChars(view, paramsChars);
      const output = view.output?.length ?? 0;
      // A member with no output has nothing to leave out, even once its record alone took the last of the room.
      if (output === 0 || output <= w.room) {
        w.room -= output;
        w.directives.push(view);
      } else {
        w.outputOmitted.push(view.id);
        w.directives.push({ ...view, output: null });
      }
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
      w.settle({ fanoutId, aggregate: shown?.event === "aggregate" ? shown.aggregate : null, directives: w.directives, outputOmitted: w.outputOmitted });
    }
  }
}
