import { utf8Tail } from "../directives/utf8.ts";

/** Keeps the last `maxBytes` of a growing text, the part of a long run's output worth reporting. */
export class TailBuffer {
  private text = "";

  constructor(private readonly maxBytes: number) {}

  push(text: string): void {
    this.text += text;
    // Trim only now and then: re-encoding on every write would cost a copy per chunk of output.
    if (this.text.length > this.maxBytes * 2) this.text = utf8Tail(this.text, this.maxBytes);
  }

  toString(): string {
    return utf8Tail(this.text, this.maxBytes);
  }
}
