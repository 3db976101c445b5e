import { RE2JS } from "re2js";
import { ActionError } from "../actions/action-error.ts";

/**
 * A pattern from a caller (a model, an API client) compiled with RE2, which matches in time linear in the input:
 * no pattern, however nested, can make the agent backtrack for minutes. Lookarounds and backreferences, which need
 * backtracking, are refused with RE2's own explanation.
 */
export function compilePattern(pattern: string, options: { caseInsensitive?: boolean } = {}): (text: string) => boolean {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern, options.caseInsensitive ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    throw new ActionError("invalid_params", `invalid pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  return (text) => compiled.matcher(text).find();
}
