import { homedir } from "node:os";

/** Everything the CLI touches outside itself, so tests can run `main` in-process with their own environment. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  homedir: string;
  /** Whether stderr is a terminal, where progress is redrawn in place; in a pipe or a log it is printed line by line. */
  stderrIsTTY?: boolean;
  /**
   * Runs `handler` on the first Ctrl-C instead of letting it kill the process; a second Ctrl-C kills as usual.
   * Returns a function that removes the handler.
   */
  onInterrupt(handler: () => void): () => void;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    homedir: homedir(),
    stderrIsTTY: process.stderr.isTTY === true,
    onInterrupt(handler) {
      process.once("SIGINT", handler);
      return () => void process.off("SIGINT", handler);
    },
  };
}
