import { openSync } from "node:fs";
import tty from "node:tty";
import { CliError } from "./cli-error.ts";

/**
 * Reads a secret from standard input: on a terminal without echoing it, otherwise the first line of what is
 * piped in (`printf '%s' "$KEY" | cortex login`).
 */
export async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return firstLine(stdin);
  return readHidden(stdin, process.stderr, prompt);
}

/**
 * Asks on the controlling terminal, without echo, even when standard input is a pipe (under `curl ... | sh` it is
 * the script itself). Null when the process has no terminal.
 */
export async function askOnTerminal(prompt: string): Promise<string | null> {
  let input: tty.ReadStream;
  let output: tty.WriteStream;
  try {
    input = new tty.ReadStream(openSync("/dev/tty", "r"));
    output = new tty.WriteStream(openSync("/dev/tty", "w"));
  } catch {
    return null;
  }
  try {
    return await readHidden(input, output, prompt);
  } finally {
    input.destroy();
    output.destroy();
  }
}

function readHidden(input: tty.ReadStream, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  // Echo goes off before the prompt shows, so nothing typed after it can be echoed.
  input.setRawMode(true);
  output.write(prompt);
  input.setEncoding("utf8");
  input.resume();
  return new Promise<string>((resolve, reject) => {
    let value = "";
    const finish = () => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
      output.write("\n");
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return (finish(), resolve(value));
        if (ch === "\u0003" || ch === "\u0004") return (finish(), reject(new CliError("cancelled", 130)));
        value = ch === "\u007f" || ch === "\b" ? value.slice(0, -1) : value + ch;
      }
    };
    input.on("data", onData);
  });
}

/** The first line of what is piped in. */
export async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}
