import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as z from "zod";
import { ResultMessage } from "../../protocol/node-messages.ts";
import type { Logger } from "../connection/logger.ts";
import { ProcessTracking } from "../processes/tracked-processes.ts";
import { utf8Head } from "./utf8.ts";

/** Directive ids remembered: enough to cover any repeat the hub could send after a reconnect. */
const DEFAULT_CAPACITY = 1_000;
/** Output kept with a remembered result; a repeat is rare, and the journal must stay small. */
const KEPT_OUTPUT_BYTES = 16 * 1024;

/** Written before a directive starts anything, with how to find its processes should the agent die meanwhile. */
const StartLine = z.object({ id: z.string(), startedAt: z.number(), tracking: ProcessTracking.optional() });
const ResultLine = z.object({ id: z.string(), result: ResultMessage });
const JournalLine = z.union([ResultLine, StartLine]);
type JournalLine = z.infer<typeof JournalLine>;

function parseLine(text: string): JournalLine | null {
  try {
    const parsed = JournalLine.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

function compact(result: ResultMessage): ResultMessage {
  const { data, ...rest } = result;
  const notes: string[] = [];
  let output = result.output;
  if (Buffer.byteLength(output) > KEPT_OUTPUT_BYTES) {
    output = utf8Head(output, KEPT_OUTPUT_BYTES);
    notes.push(`[output truncated: only the first ${KEPT_OUTPUT_BYTES} bytes are kept for repeats]`);
  }
  if (data?.kind === "image") notes.push("[image data is not kept for repeats]");
  const kept = notes.length === 0 ? output : `${output}\n${notes.join("\n")}`;
  return {
    ...rest,
    output: kept,
    ...(Buffer.byteLength(output) < Buffer.byteLength(result.output) && { truncated: true }),
    ...(data && data.kind !== "image" && { data }),
  };
}

function lostResult(directiveId: string): ResultMessage {
  return {
    type: "result",
    directiveId,
    success: false,
    output: "",
    error: "the agent stopped while this directive was running; it was not run again",
    errorCode: "lost",
    durationMs: 0,
    exitCode: null,
  };
}

/**
 * The directive ids this agent has seen, newest last, with their results once finished, so that a repeat is
 * answered and never run twice. Kept in `stateDir` as an append-only JSON-lines file (cheap to write before a
 * directive starts), rewritten compactly when it grows to twice the capacity.
 */
export class DirectiveJournal {
  /** A result, or null while the directive runs. */
  private readonly entries = new Map<string, ResultMessage | null>();
  /** How to find the processes of each directive still running. */
  private readonly tracking = new Map<string, ProcessTracking>();
  /** Directives a previous agent process was running when it stopped, with their processes' tracking. */
  private readonly leftOver: ProcessTracking[] = [];
  private lines = 0;

  constructor(
    private readonly file: string | null,
    private readonly log: Logger,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {
    this.load();
  }

  /** undefined: never seen; null: still running; otherwise the result it ended with. */
  get(directiveId: string): ResultMessage | null | undefined {
    return this.entries.get(directiveId);
  }

  started(directiveId: string, tracking?: ProcessTracking): void {
    this.remember(directiveId, null);
    if (tracking) this.tracking.set(directiveId, tracking);
    this.append({ id: directiveId, startedAt: Date.now(), ...(tracking && { tracking }) });
  }

  /**
   * The processes of the directives that were running when the previous agent process stopped (killed, crashed,
   * machine restarted), for the agent to stop: their results were given up as lost, nobody waits for them.
   */
  takeLeftOver(): ProcessTracking[] {
    return this.leftOver.splice(0);
  }

  finished(result: ResultMessage): void {
    this.tracking.delete(result.directiveId);
    const kept = compact(result);
    this.remember(result.directiveId, kept);
    this.append({ id: result.directiveId, result: kept });
  }

  private remember(directiveId: string, result: ResultMessage | null): void {
    this.entries.delete(directiveId);
    this.entries.set(directiveId, result);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(oldest);
    }
  }

  private load(): void {
    if (!this.file || !existsSync(this.file)) return;
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      this.log("warn", `cannot read directive journal ${this.file}: ${(err as Error).message}`);
      return;
    }
    for (const line of text.split("\n")) {
      // A line torn by a crash is skipped; the others still count.
      const parsed = parseLine(line);
      if (!parsed) continue;
      this.remember(parsed.id, "result" in parsed ? parsed.result : null);
      if ("result" in parsed) this.tracking.delete(parsed.id);
      else if (parsed.tracking) this.tracking.set(parsed.id, parsed.tracking);
    }
    for (const [id, result] of this.entries) {
      if (result !== null) continue;
      this.entries.set(id, lostResult(id));
      const tracking = this.tracking.get(id);
      if (tracking) this.leftOver.push(tracking);
    }
    this.tracking.clear();
    this.rewrite();
  }

  private append(line: JournalLine): void {
    if (!this.file) return;
    if (this.lines >= this.capacity * 2) return this.rewrite();
    // By its path every time, not through a descriptor kept open: a journal replaced or deleted meanwhile (a restore,
    // an operator) would otherwise take the lines, and with them what stops a directive from running twice.
    try {
      appendFileSync(this.file, `${JSON.stringify(line)}\n`);
      this.lines++;
    } catch (err) {
      this.log("warn", `cannot write directive journal ${this.file}: ${(err as Error).message}`);
    }
  }

  private rewrite(): void {
    if (!this.file) return;
    const lines = [...this.entries].map(([id, result]) => JSON.stringify(result ? { id, result } : { id, startedAt: Date.now(), tracking: this.tracking.get(id) }));
    const temporary = `${this.file}.tmp`;
    try {
      writeFileSync(temporary, lines.map((line) => `${line}\n`).join(""));
      renameSync(temporary, this.file);
      this.lines = lines.length;
    } catch (err) {
      this.log("warn", `cannot write directive journal ${this.file}: ${(err as Error).message}`);
    }
  }
}
