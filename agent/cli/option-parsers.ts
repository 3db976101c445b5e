import { InvalidArgumentError } from "commander";
import { NodeId } from "../../protocol/identifiers.ts";

/** Parsers for commander options and arguments: bad values become commander's own error, before anything is sent. */

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError("expected a whole number above 0");
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number, 0 or more");
  return n;
}

/**
 * A parser for a duration typed in seconds (fractions allowed) and returned in milliseconds, refusing anything
 * above `maxMs` with a message in seconds: every time option of the CLI is in seconds, and so are its errors.
 */
export function seconds(maxMs: number): (value: string) => number {
  return (value) => {
    const s = Number(value);
    if (value.trim() === "" || !Number.isFinite(s) || s < 0.001) throw new InvalidArgumentError("expected a number of seconds above 0");
    if (s * 1000 > maxMs) throw new InvalidArgumentError(`at most ${maxMs / 1000} seconds`);
    return Math.round(s * 1000);
  };
}

export function nodeId(value: string): string {
  const parsed = NodeId.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}
