import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ProcessEvent } from "../../protocol/processes.ts";
import type { Logger } from "../connection/logger.ts";
import { writeJsonAtomic } from "../runs/run-files.ts";

/** Events kept for the hub at most; past it the oldest go, since a week-long crash loop offline must not fill the disk. */
export const MAX_QUEUED_EVENTS = 10_000;

const FILE = /^(\d{15})-(\d{6})-(pe-[0-9a-f-]{36})\.json$/;

/**
 * Process events waiting for the hub's acknowledgement, one file each in `dir`, named so that their order is the
 * order they happened in. An event stays until the hub says it has recorded it, so it survives the agent restarting
 * and the hub being unreachable; the hub drops repeats by id, so sending one twice is harmless.
 */
export class EventQueue {
  private sequence = 0;
  private readonly files = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const file of readdirSync(dir)) {
      const match = FILE.exec(file);
      if (match) this.files.set(match[3]!, file);
      else if (file.endsWith(".tmp")) rmSync(join(dir, file), { force: true });
    }
  }

  push(event: ProcessEvent): void {
    this.sequence = (this.sequence + 1) % 1_000_000;
    const file = `${String(Math.max(0, Math.floor(event.at))).padStart(15, "0")}-${String(this.sequence).padStart(6, "0")}-${event.id}.json`;
    writeJsonAtomic(join(this.dir, file), event);
    this.files.set(event.id, file);
    if (this.files.size > MAX_QUEUED_EVENTS) {
      const oldest = this.ordered().slice(0, this.files.size - MAX_QUEUED_EVENTS);
      for (const [id] of oldest) this.remove(id);
      this.log("warn", `process events: more than ${MAX_QUEUED_EVENTS} waiting for the hub; dropped the ${oldest.length} oldest`);
    }
  }

  /** Every event not yet acknowledged, oldest first. */
  pending(): ProcessEvent[] {
    const events: ProcessEvent[] = [];
    for (const [id, file] of this.ordered()) {
      try {
        const parsed = ProcessEvent.safeParse(JSON.parse(readFileSync(join(this.dir, file), "utf8")));
        if (parsed.success) events.push(parsed.data);
        else this.remove(id);
      } catch {
        this.remove(id);
      }
    }
    return events;
  }

  get size(): number {
    return this.files.size;
  }

  acknowledge(ids: readonly string[]): void {
    for (const id of ids) this.remove(id);
  }

  private ordered(): [string, string][] {
    return [...this.files].sort((a, b) => (a[1] < b[1] ? -1 : 1));
  }

  private remove(id: string): void {
    const file = this.files.get(id);
    if (!file) return;
    rmSync(join(this.dir, file), { force: true });
    this.files.delete(id);
  }
}
