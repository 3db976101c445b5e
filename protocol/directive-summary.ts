import type { FanOutAggregate } from "./api.ts";
import type { ActionName } from "./directives.ts";

/**
 * What a directive did, in a few words, the same everywhere it is shown (activity log, dashboard tables, CLI):
 * the command of a shell, the path of a file action, the pattern and folder of a search, the run of a run action.
 * It is only a description: callers who show it to people other than its author redact it first.
 */
export function summarizeCall(action: ActionName, params: Record<string, unknown>): string {
  const text = (key: string) => (typeof params[key] === "string" ? (params[key] as string) : "");
  switch (action) {
    case "bash":
      return text("command");
    case "read":
    case "write":
    case "edit":
      return text("path");
    case "glob":
    case "grep":
      return [text("pattern"), text("path") && `in ${text("path")}`].filter(Boolean).join(" ");
    case "run.launch":
      return [text("name") && `"${text("name")}":`, text("command")].filter(Boolean).join(" ");
    case "run.status":
    case "run.cancel":
      return text("runId");
    default:
      return plainParams(params);
  }
}

/** Any other action by its few plain params, `unit=nginx operation=restart`: what a reader needs to tell calls apart. */
function plainParams(params: Record<string, unknown>): string {
  return Object.entries(params)
    .filter(([, v]) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
}

const OUTCOME_WORDS: [keyof FanOutAggregate, string][] = [
  ["failed", "failed"],
  ["offline", "offline"],
  ["refused", "refused by tier"],
  ["cancelled", "cancelled"],
  ["timedOut", "timed out"],
  ["lost", "lost"],
];

/** A fan-out's outcomes in words, the same in the CLI and the activity log: "2 succeeded", then each other outcome that happened. */
export function outcomeCounts(a: FanOutAggregate): string[] {
  return [`${a.succeeded} succeeded`, ...OUTCOME_WORDS.filter(([k]) => a[k] !== 0).map(([k, words]) => `${a[k]} ${words}`)];
}

/** `text` on one line and at most `max` characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** "1 machine", "3 machines": a count with its noun, singular when it is one. */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
