import type { ActionParams } from "../../protocol/directives.ts";

export interface GrepMatch {
  file: string;
  line: number;
  text: string;
}

/** Accepts a match; false means enough has been seen and the search may stop. */
export type MatchSink = (match: GrepMatch) => boolean;

/**
 * Turns matches, in file order, into the page of output the call asked for. Both search implementations feed it,
 * so they agree on format and paging.
 */
export class GrepResults {
  private readonly entries: string[] = [];
  private readonly counts = new Map<string, number>();
  private seen = 0;
  private lastFile: string | null = null;
  private more = false;

  constructor(private readonly params: ActionParams<"grep">) {}

  readonly add: MatchSink = (match) => {
    switch (this.params.outputMode) {
      case "content":
        return this.take(`${match.file}:${match.line}:${match.text}`);
      case "files_with_matches":
        if (match.file === this.lastFile) return true;
        this.lastFile = match.file;
        return this.take(match.file);
      case "count":
        this.counts.set(match.file, (this.counts.get(match.file) ?? 0) + 1);
        return true;
    }
  };

  render(): string {
    if (this.params.outputMode === "count") {
      for (const [file, count] of this.counts) this.take(`${file}:${count}`);
    }
    if (!this.more) return this.entries.join("\n");
    const next = this.params.offset + this.params.headLimit;
    return [...this.entries, `[more results: repeat with offset ${next}]`].join("\n");
  }

  private take(entry: string): boolean {
    const index = this.seen++;
    if (index < this.params.offset) return true;
    if (this.entries.length < this.params.headLimit) {
      this.entries.push(entry);
      return true;
    }
    this.more = true;
    return false;
  }
}
