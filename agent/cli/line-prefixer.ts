export type OutputStream = "stdout" | "stderr";

/**
 * Interleaves the output of many nodes line by line: each complete line is written with its node's label in front,
 * and a partial line waits, per node and stream, until its newline (or the node's end) arrives.
 */
export class LinePrefixer {
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly write: (stream: OutputStream, text: string) => void,
    private readonly label: (nodeId: string) => string,
  ) {}

  push(nodeId: string, stream: OutputStream, chunk: string): void {
    const key = `${stream}:${nodeId}`;
    const lines = ((this.partial.get(key) ?? "") + chunk).split("\n");
    this.partial.set(key, lines.pop()!);
    if (lines.length) this.write(stream, lines.map((line) => this.prefixed(nodeId, line)).join(""));
  }

  /** The node has finished: its unterminated last lines are written as they are. */
  flush(nodeId: string): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const key = `${stream}:${nodeId}`;
      const rest = this.partial.get(key);
      if (rest) this.write(stream, this.prefixed(nodeId, rest));
      this.partial.delete(key);
    }
  }

  private prefixed(nodeId: string, line: string): string {
    return `${this.label(nodeId)} | ${line}\n`;
  }
}
