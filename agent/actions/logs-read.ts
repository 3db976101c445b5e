import type { ActionParams } from "../../protocol/directives.ts";
import { fullUnitName, JOURNAL_DIR, LOG_FILE_ROOT } from "../../protocol/machine-actions.ts";
import { isWithin } from "../../protocol/tier-policy.ts";
import { capText, clip } from "../host/compact-output.ts";
import { requireLinux } from "../host/procfs.ts";
import { programFailure, runProgram } from "../host/programs.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { openFileVerified } from "../sandbox/verified-fs.ts";
import { ActionError } from "./action-error.ts";
import type { FileActionContext } from "./file-action-context.ts";
import { looksBinary, splitLines } from "./text.ts";

const MAX_LINE_CHARS = 1_000;
/** How far back from the end of a file the tail is looked for. */
const MAX_TAIL_BYTES = 2 * 1024 * 1024;
const JOURNAL_TIMEOUT_MS = 30_000;

function render(header: string, lines: string[]): string {
  return capText([header, ...lines.map((line) => clip(line, MAX_LINE_CHARS))].join("\n"));
}

async function journal(params: ActionParams<"logs.read">, ctx: ActionContext): Promise<void> {
  const unit = params.unit === undefined ? null : fullUnitName(params.unit);
  // Every value goes in its option's `--name=value` form: whatever it holds, it cannot be read as another option.
  const args = [
    "--no-pager",
    "--quiet",
    "--output=short-iso",
    "--no-hostname",
    `--lines=${params.lines}`,
    ...(unit ? [`--unit=${unit}`] : []),
    ...(params.since ? [`--since=-${params.since}`] : []),
    ...(params.priority ? [`--priority=${params.priority}`] : []),
    // A caller confined to the readable paths reads the journal because JOURNAL_DIR is in them, so only that folder:
    // not the volatile journal in /run/log/journal, nor another machine's journal journalctl could be pointed at.
    ...(ctx.policy.spec.confineTo ? [`--directory=${JOURNAL_DIR}`] : []),
  ];
  const result = await runProgram(ctx, "journalctl", args, { timeoutMs: JOURNAL_TIMEOUT_MS, maxBytes: 4 * 1024 * 1024 });
  if (result.code !== 0) throw new ActionError("exec_failed", programFailure("journalctl", result));
  const scope = [unit ?? "all units", params.since && `last ${params.since}`, params.priority && `priority ${params.priority} or worse`].filter(Boolean).join(", ");
  const lines = splitLines(result.stdout);
  if (lines.length === 0) {
    ctx.out.write(`journal (${scope}): no entries. Either nothing was logged, or this machine keeps no journal; a file under ${LOG_FILE_ROOT} may have it.`);
    return;
  }
  ctx.out.write(render(`journal (${scope}), last ${lines.length} line${lines.length === 1 ? "" : "s"}:`, lines));
}

/**
 * The last lines of a log file, which must really (by the real path of the opened descriptor) lie under
 * LOG_FILE_ROOT and inside the directive's policy. Runs where file actions run: as the action user.
 */
export async function logsReadFile(params: ActionParams<"logs.read">, ctx: FileActionContext): Promise<ActionOutcome> {
  if (params.file === undefined) throw new ActionError("invalid_params", "logs.read without a file reads the journal, which is not a file action");
  requireLinux(`reading ${LOG_FILE_ROOT}`);
  const opened = await openFileVerified(params.file, ctx.policy, "read");
  const { handle } = opened;
  try {
    if (!isWithin(opened.real, LOG_FILE_ROOT)) {
      throw new ActionError("tier_refused", `${params.file} turned out to be ${opened.real} when opened, which is not under ${LOG_FILE_ROOT}`);
    }
    const info = await handle.stat();
    if (!info.isFile()) throw new ActionError("invalid_params", `${params.file} is not a regular file`);
    const length = Math.min(info.size, MAX_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, info.size - length);
    ctx.signal.throwIfAborted();
    const bytes = buffer.subarray(0, bytesRead);
    if (looksBinary(bytes)) throw new ActionError("invalid_params", `${params.file} is not a text file (rotated logs ending in .gz are compressed)`);
    let lines = splitLines(bytes.toString("utf8"));
    // A tail that starts mid-file starts mid-line: drop the partial first line.
    if (length < info.size) lines = lines.slice(1);
    const shown = lines.slice(-params.lines);
    if (shown.length === 0) {
      ctx.out.write(`${params.file}: empty`);
      return {};
    }
    ctx.out.write(render(`${params.file} (${info.size} bytes, modified ${info.mtime.toISOString()}), last ${shown.length} line${shown.length === 1 ? "" : "s"}:`, shown));
  } finally {
    await handle.close();
  }
  return {};
}

/** The journal, read by journalctl running as the action user (its groups decide whose lines it sees). */
export async function logsRead(params: ActionParams<"logs.read">, ctx: ActionContext): Promise<ActionOutcome> {
  requireLinux("the systemd journal");
  await journal(params, ctx);
  return {};
}
