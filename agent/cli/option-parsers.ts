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

/** Seconds as typed (fractions allowed), returned in milliseconds. */
export function secondsToMs(value: string): number {
  const s = Number(value);
  if (!Number.isFinite(s) || s <= 0) throw new InvalidArgumentError("expected a number of seconds above 0");
  return Math.round(s * 1000);
}

export function nodeId(value: string): string {
  const parsed = NodeId.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}
