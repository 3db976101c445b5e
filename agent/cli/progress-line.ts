import { bytes } from "./format.ts";

/** Redraws at most this often, so a fast transfer does not spend its time printing. */
const REDRAW_MS = 100;

export function rate(byteCount: number, ms: number): string {
  return ms > 0 ? `${bytes(Math.round((byteCount * 1000) / ms))}/s` : "—";
}

/**
 * Transfer progress on stderr: on a terminal one line redrawn in place (bytes done of total, share, rate); in a pipe
 * or a log nothing until `finish`, so a CI log gets one line, not thousands.
 */
export class ProgressLine {
  private last = 0;
  private shown = false;
  private readonly started = Date.now();

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly label: string,
    private readonly total: number,
  ) {}

  update(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    const complete = this.total > 0 && done >= this.total;
    if (now - this.last < REDRAW_MS && !complete) return;
    this.last = now;
    this.shown = true;
    const of = this.total ? ` of ${bytes(this.total)}  ${Math.floor((done / this.total) * 100)}%` : "";
    this.write(`\r${this.label} ${bytes(done)}${of}  ${rate(done, now - this.started)}\u001b[K`);
  }

  /** Clears the live line; returns the time since the start. */
  finish(): number {
    if (this.shown) this.write("\r\u001b[K");
    return Date.now() - this.started;
  }
}
