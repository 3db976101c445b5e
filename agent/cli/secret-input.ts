import { CliError } from "./cli-error.ts";

/**
 * Reads a secret from standard input: on a terminal without echoing it, otherwise the first line of what is
 * piped in (`printf '%s' "$KEY" | cortex login`).
 */
export async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return firstLine(stdin);
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let value = "";
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return (finish(), resolve(value));
        if (ch === "\u0003" || ch === "\u0004") return (finish(), reject(new CliError("cancelled", 130)));
        value = ch === "\u007f" || ch === "\b" ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function firstLine(stream: NodeJS.ReadStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) {
    text += chunk;
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0] ?? "";
}
