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
  /** Asks a question on the terminal and returns the answer; absent when there is no terminal to ask on. */
  ask?(question: string): Promise<string>;
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
    ...(process.stdin.isTTY && process.stderr.isTTY ? { ask: askOnTerminal } : {}),
  };
}

/**
 * One question on the terminal (prompt on stderr, so stdout stays the command's output). Ctrl-C at the prompt answers
 * nothing and is passed on to the process, as it would have been without the prompt.
 */
async function askOnTerminal(question: string): Promise<string> {
  // Loaded here, not at start: the agent, which never asks, would otherwise keep Node's readline in memory.
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const abort = new AbortController();
  let interrupted = false;
  rl.on("SIGINT", () => {
    interrupted = true;
    abort.abort();
  });
  try {
    return await rl.question(question, { signal: abort.signal });
  } catch {
    return "";
  } finally {
    rl.close();
    if (interrupted) process.kill(process.pid, "SIGINT");
  }
}
