import type { Metafile } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";
import { bundleDashboard } from "../../scripts/build-web.ts";
import { REPO_ROOT } from "../support/test-hub.ts";

/**
 * The chat must not make the dashboard's first page heavier: its page, and the markdown parser and sanitiser it uses,
 * load only when the chat is opened, each in a chunk of its own, and none of them brings the schema library along.
 */

let metafile: Metafile;

/** Output files the entry loads before it can draw: the entry and its static imports, transitively. */
function firstPage(meta: Metafile): Set<string> {
  const entry = Object.entries(meta.outputs).find(([, out]) => out.entryPoint?.endsWith("web/src/main.tsx"))![0];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const imp of meta.outputs[file]?.imports ?? []) if (imp.kind === "import-statement") visit(imp.path);
  };
  visit(entry);
  return seen;
}

/** The output file holding `input` (a path under the repository, or a package's folder under node_modules). */
function holder(meta: Metafile, input: string): string[] {
  return Object.entries(meta.outputs)
    .filter(([, out]) => Object.keys(out.inputs).some((i) => i === input || i.startsWith(input)))
    .map(([file]) => file);
}

beforeAll(async () => {
  metafile = (await bundleDashboard(REPO_ROOT)).metafile;
}, 60_000);

describe("the chat in the dashboard's bundle", () => {
  it("loads none of the chat's code, marked or DOMPurify with the first page", () => {
    const first = firstPage(metafile);
    for (const input of ["web/src/pages/Chat.tsx", "web/src/chat/markdown.ts", "web/src/chat/conversation-feed.ts", "node_modules/marked/", "node_modules/dompurify/"]) {
      const files = holder(metafile, input);
      expect(files.length, `${input} is in the build`).toBeGreaterThan(0);
      for (const file of files) expect(first.has(file), `${input} is in ${file}, loaded by the first page`).toBe(false);
    }
  });

  it("keeps the chat page, marked and DOMPurify in separate chunks", () => {
    const chunks = ["web/src/pages/Chat.tsx", "node_modules/marked/", "node_modules/dompurify/"].map((input) => holder(metafile, input));
    for (const files of chunks) expect(files).toHaveLength(1);
    expect(new Set(chunks.flat()).size).toBe(3);
  });

  it("brings no zod of its own: what the chat imports beyond the first page's modules is free of it", () => {
    const loaded = new Set([...firstPage(metafile)].flatMap((file) => Object.keys(metafile.outputs[file]!.inputs)));
    const reached = new Set<string>();
    const visit = (input: string) => {
      if (reached.has(input) || loaded.has(input)) return;
      reached.add(input);
      for (const imp of metafile.inputs[input]?.imports ?? []) visit(imp.path);
    };
    visit("web/src/pages/Chat.tsx");
    expect(reached.size).toBeGreaterThan(10);
    expect([...reached].filter((input) => input.includes("node_modules/zod/"))).toEqual([]);
    const schemaUsers = [...reached].filter((input) => metafile.inputs[input]?.imports.some((imp) => imp.path.includes("node_modules/zod/")));
    expect(schemaUsers).toEqual([]);
  });
});
