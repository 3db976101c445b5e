/**
 * How deeply a request body may nest. JSON.parse copes with any depth, and zod does not look inside the values
 * it accepts as `unknown` (a directive's params, a passkey's extension results); but passing such a value to a
 * Durable Object serialises it recursively, and a body nested a few thousand levels deep overflowed the stack
 * there (a 500). No body of this API needs more than a handful of levels, so anything deeper is refused as
 * malformed before it goes anywhere.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests arrays and objects deeper than `max`; walks iteratively, so it cannot overflow itself. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
  return false;
}
