import picomatch from "picomatch";
import { RE2JS } from "re2js";
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
export function compileGlob(pattern: string): (relative: string) => boolean {
  let compiled: RE2JS;
  try {
    const source = GUARDS_TRUE_OF_WALKED_PATHS.reduce((text, guard) => text.split(guard).join(""), picomatch.makeRe(pattern, { dot: true }).source);
    compiled = RE2JS.compile(source);
  } catch (err) {
    throw new ActionError("invalid_params", `glob ${JSON.stringify(pattern)} is not supported: ${(err as Error).message}`);
  }
  return (relative) => compiled.matcher(relative).matches();
}
