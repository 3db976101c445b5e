import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DirectiveJournal } from "../../agent/directives/directive-journal.ts";
import type { ResultMessage } from "../../protocol/node-messages.ts";
import { cleanUp, silentLog, tempDir } from "./executor-harness.ts";

afterEach(cleanUp);

function result(directiveId: string, output = "ok"): ResultMessage {
  return { type: "result", directiveId, success: true, output, durationMs: 1, exitCode: 0 };
}

describe("directive journal", () => {
  it("forgets the oldest ids beyond its capacity", () => {
    const journal = new DirectiveJournal(null, silentLog, 3);
    for (const id of ["a", "b", "c", "d"]) journal.finished(result(id));
    expect(journal.get("a")).toBeUndefined();
    expect(journal.get("d")).toMatchObject({ output: "ok" });
  });

  it("rewrites its file compactly once it reaches twice its capacity, and reloads the same entries", () => {
    const file = join(tempDir(), "directives.jsonl");
    const journal = new DirectiveJournal(file, silentLog, 3);
    for (const id of ["a", "b", "c", "d"]) {
      journal.started(id);
      journal.finished(result(id));
    }
    expect(readFileSync(file, "utf8").trim().split("\n").length).toBeLessThanOrEqual(6);
    const reloaded = new DirectiveJournal(file, silentLog, 3);
    expect(["a", "b", "c", "d"].map((id) => reloaded.get(id)?.directiveId)).toEqual([undefined, "b", "c", "d"]);
    // What was written after the rewrite went into the new file, not the one the rewrite replaced.
    expect(reloaded.get("d")).toMatchObject({ success: true, output: "ok" });
  });

  it("writes every later line to the journal on disk after it was replaced or deleted, so no directive runs twice", () => {
    const file = join(tempDir(), "directives.jsonl");
    const journal = new DirectiveJournal(file, silentLog);
    journal.started("a");
    journal.finished(result("a"));
    // Put back from a backup, as a restore or an operator would: a new file under the same name.
    writeFileSync(`${file}.restored`, readFileSync(file));
    renameSync(`${file}.restored`, file);
    journal.started("b");
    expect(new DirectiveJournal(file, silentLog).get("b")).toMatchObject({ errorCode: "lost" });
    rmSync(file);
    journal.started("c");
    expect(new DirectiveJournal(file, silentLog).get("c")).toMatchObject({ errorCode: "lost" });
  });

  it("keeps only the head of a large output and no image data for repeats, saying so", () => {
    const journal = new DirectiveJournal(null, silentLog);
    journal.finished({ ...result("big", "y".repeat(100_000)) });
    journal.finished({ ...result("img", "a.png"), data: { kind: "image", mediaType: "image/png", base64: "AAAA" } });
    const big = journal.get("big")!;
    expect(big.truncated).toBe(true);
    expect(big.output).toMatch(/^y{16384}\n\[output truncated: only the first 16384 bytes are kept for repeats\]$/);
    const image = journal.get("img")!;
    expect(image.data).toBeUndefined();
    expect(image.output).toContain("[image data is not kept for repeats]");
  });
});
