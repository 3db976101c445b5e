import { spawn } from "node:child_process";
import { delimiter } from "node:path";
import * as z from "zod";
import type { ActionParams } from "../../protocol/directives.ts";
import { findProgram } from "../host/programs.ts";
import { ActionError } from "./action-error.ts";
import { VCS_DIRS } from "./file-listing.ts";
import type { MatchSink } from "./grep-results.ts";
import { waitForExit } from "./process-group.ts";

/** The `rg` executable on PATH, or null. */
export function findRipgrep(): string | null {
  return findProgram((process.env.PATH ?? "").split(delimiter).filter(Boolean), "rg");
}

const Text = z.union([z.object({ text: z.string() }), z.object({ bytes: z.string() })]);
const MatchEvent = z.object({
  type: z.literal("match"),
  data: z.object({ path: Text, lines: Text, line_number: z.number().int() }),
});

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

function textOf(value: z.infer<typeof Text>): string {
  return "text" in value ? value.text : Buffer.from(value.bytes, "base64").toString("utf8");
}

function ripgrepArgs(params: ActionParams<"grep">): string[] {
  // Hidden files included and ignore files disregarded so the answer matches the built-in search; sorted so that
  // paging with offset is stable.
  const args = ["--json", "--no-config", "--hidden", "--no-ignore", "--sort", "path"];
  for (const dir of VCS_DIRS) args.push("--glob", `!${dir}`);
  if (params.caseInsensitive) args.push("--ignore-case");
  if (params.glob) args.push("--glob", params.glob);
  args.push("--regexp", params.pattern, "--", params.path);
  return args;
}

export async function ripgrepSearch(rg: string, params: ActionParams<"grep">, signal: AbortSignal, sink: MatchSink): Promise<void> {
  // Loaded by the first search, not at start: every agent would otherwise keep Node's readline in memory.
  const { createInterface } = await import("node:readline");
  const child = spawn(rg, ripgrepArgs(params), { stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
  const stop = () => child.kill("SIGKILL");
  signal.addEventListener("abort", stop, { once: true });
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => {
    if (stderr.length < 4096) stderr += data.toString("utf8");
  });
  const exited = waitForExit(child);
  let stopped = false;
  let matched = false;
  for await (const line of createInterface({ input: child.stdout })) {
    const event = MatchEvent.safeParse(parseJson(line));
    if (!event.success) continue;
    matched = true;
    const { path, lines, line_number } = event.data.data;
    if (!sink({ file: textOf(path), line: line_number, text: textOf(lines).replace(/\r?\n$/, "") })) {
      stopped = true;
      stop();
      break;
    }
  }
  const exit = await exited.finally(() => signal.removeEventListener("abort", stop));
  signal.throwIfAborted();
  if (exit.error) throw new ActionError("exec_failed", `could not run ripgrep: ${exit.error.message}`);
  // Exit 2 with matches means some files could not be read; the matches still stand.
  if (stopped || exit.code === 0 || exit.code === 1 || (exit.code === 2 && matched)) return;
  const message = stderr.trim() || `ripgrep exited with ${exit.code ?? exit.signal}`;
  throw new ActionError(/regex parse error|error parsing regex/i.test(message) ? "invalid_params" : "exec_failed", message);
}
