export type LogLevel = "info" | "warn" | "error";
export type Logger = (level: LogLevel, message: string) => void;

export function stderrLogger(now: () => Date = () => new Date()): Logger {
  return (level, message) => {
    process.stderr.write(`${now().toISOString()} ${level.padEnd(5)} ${message}\n`);
  };
}

/**
 * Log lines carry text from outside (hub error messages, refusal bodies, socket errors), so each line is folded
 * to one line and every token the agent holds is blanked out, whatever the text came from.
 */
export function guardedLogger(inner: Logger, secrets: () => Iterable<string>): Logger {
  return (level, message) => {
    let line = message.replace(/\s*[\r\n]+\s*/g, " ");
    for (const secret of secrets()) line = line.replaceAll(secret, "[token]");
    inner(level, line);
  };
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
