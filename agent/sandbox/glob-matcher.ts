import picomatch from "picomatch";
import { ActionError } from "../actions/action-error.ts";

/**
 * picomatch's guards against `.` and `..` segments and empty names. A walk matches only the real entries it found,
 * whose names are never `.`, `..` or empty, so these lookaheads are always true there and can go: RE2 has none.
 */
const GUARDS_TRUE_OF_WALKED_PATHS = [String.raw`(?!(?:^|\/)\.{1,2}(?:\/|$))`, String.raw`(?!\.{1,2}(?:\/|$))`, String.raw`(?=.)`];

/**
 * A glob (picomatch's syntax, dot files included) as a matcher of paths relative to the walk's root, run by RE2 in
 * time linear in the path. picomatch's own regular expression backtracks: `*a*a*a*a*b` against a 255-character
 * name took 40 s, with the agent's event loop (timeouts, cancel, heartbeats) stopped meanwhile. A glob that needs
 * backtracking (a negation such as `!(x)`) is refused.
 */
export async function compileGlob(pattern: string): Promise<(relative: string) => boolean> {
  // RE2's engine loads with the first walk, not at the agent's start (test/node/agent-startup-imports.test.ts).
  const { RE2JS } = await import("re2js");
  let compiled: InstanceType<typeof RE2JS>;
  try {
    const source = GUARDS_TRUE_OF_WALKED_PATHS.reduce((text, guard) => text.split(guard).join(""), picomatch.makeRe(pattern, { dot: true }).source);
    compiled = RE2JS.compile(source);
  } catch (err) {
    throw new ActionError("invalid_params", `glob ${JSON.stringify(pattern)} is not supported: ${(err as Error).message}`);
  }
  return (relative) => compiled.matcher(relative).matches();
}
