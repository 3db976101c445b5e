import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findRipgrep } from "../../agent/actions/grep-ripgrep.ts";
import { FakeHub, directive, executor, cleanUp, run, tempDir } from "./executor-harness.ts";

afterEach(cleanUp);

function tree(files: Record<string, string | Buffer>): string {
  const root = tempDir();
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), content);
  }
  return root;
}

describe("glob", () => {
  it("lists matching files in path order, with dot files, skipping VCS folders", async () => {
    const root = tree({ "b.ts": "", "a/c.ts": "", "a/d.js": "", ".env.ts": "", ".git/x.ts": "", ".hg/y.ts": "", ".svn/z.ts": "" });
    const result = await run(executor(), new FakeHub(), directive("glob", { pattern: "**/*.ts", path: root }));
    expect(result.output.split("\n")).toEqual([join(root, ".env.ts"), join(root, "a/c.ts"), join(root, "b.ts")]);
  });

  it("returns at most limit files and says how many matched", async () => {
    const root = tree(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${String(i).padStart(2, "0")}.txt`, ""])));
    const result = await run(executor(), new FakeHub(), directive("glob", { pattern: "*.txt", path: root, limit: 5 }));
    const lines = result.output.split("\n");
    expect(lines.slice(0, 5)).toEqual(Array.from({ length: 5 }, (_, i) => join(root, `f0${i}.txt`)));
    expect(lines[5]).toBe("[12 files matched; showing the first 5]");
    expect(lines).toHaveLength(6);
  });

  it("runs in time linear in the name: a glob that backtracks in picomatch's regular expression comes back", async () => {
    const long = "a".repeat(200);
    const root = tree({ [long]: "", aaaaaaaab: "", "ab.txt": "", "b.txt": "", "c.log": "" });
    // Against the 200-character name, picomatch's own expression for the first would backtrack for hours.
    expect(await run(executor(), new FakeHub(), directive("glob", { pattern: "*a*a*a*a*a*a*a*a*b", path: root }))).toMatchObject({ success: true, output: join(root, "aaaaaaaab") });
    expect((await run(executor(), new FakeHub(), directive("glob", { pattern: "*a*a*a*a*a*a*a*a", path: root }))).output).toBe(join(root, long));
    expect((await run(executor(), new FakeHub(), directive("glob", { pattern: "@(b|c).*", path: root }))).output.split("\n")).toEqual([join(root, "b.txt"), join(root, "c.log")]);
    expect((await run(executor(), new FakeHub(), directive("glob", { pattern: "{ab,c}.{txt,log}", path: root }))).output.split("\n")).toEqual([join(root, "ab.txt"), join(root, "c.log")]);
  });

  it("refuses a glob that needs backtracking (a negation) instead of running it", async () => {
    const root = tree({ "a.txt": "" });
    const result = await run(executor(), new FakeHub(), directive("glob", { pattern: "!(x)", path: root }));
    expect(result).toMatchObject({ success: false, errorCode: "invalid_params" });
    expect(result.error).toContain("not supported");
  });

  it("refuses a path that is not a directory", async () => {
    const root = tree({ "file.txt": "" });
    const result = await run(executor(), new FakeHub(), directive("glob", { pattern: "*", path: join(root, "file.txt") }));
    expect(result).toMatchObject({ success: false, errorCode: "invalid_params" });
  });
});

const ripgrep = findRipgrep();

describe.each([
  { name: "ripgrep", grep: "auto" as const, skip: ripgrep === null },
  { name: "built-in search", grep: "builtin" as const, skip: false },
])("grep with $name", ({ grep, skip }) => {
  const search = (params: Record<string, unknown>) => run(executor({ grep }), new FakeHub(), directive("grep", params));
  const fixture = () =>
    tree({
      "src/a.ts": "const Alpha = 1;\nconst beta = 2;\nalpha();\n",
      "src/b.js": "alpha\n",
      "src/sub/c.ts": "no match here\nALPHA\n",
      ".hidden/d.ts": "alpha\n",
      ".git/objects/e.ts": "alpha\n",
      "image.bin": Buffer.from("alpha\0binary"),
    });

  it.skipIf(skip)("shows matching lines as file:line:text in path order, skipping VCS folders and binary files", async () => {
    const root = fixture();
    const result = await search({ pattern: "alpha", path: root });
    expect(result).toMatchObject({ success: true });
    expect(result.output.split("\n")).toEqual([`${root}/.hidden/d.ts:1:alpha`, `${root}/src/a.ts:3:alpha();`, `${root}/src/b.js:1:alpha`]);
  });

  it.skipIf(skip)("matches case-insensitively and filters files by glob at any depth", async () => {
    const root = fixture();
    const result = await search({ pattern: "alpha", path: root, caseInsensitive: true, glob: "*.ts" });
    expect(result.output.split("\n")).toEqual([
      `${root}/.hidden/d.ts:1:alpha`,
      `${root}/src/a.ts:1:const Alpha = 1;`,
      `${root}/src/a.ts:3:alpha();`,
      `${root}/src/sub/c.ts:2:ALPHA`,
    ]);
  });

  it.skipIf(skip)("lists files with matches and counts matching lines per file", async () => {
    const root = fixture();
    const files = await search({ pattern: "alpha", path: root, caseInsensitive: true, outputMode: "files_with_matches" });
    expect(files.output.split("\n")).toEqual([`${root}/.hidden/d.ts`, `${root}/src/a.ts`, `${root}/src/b.js`, `${root}/src/sub/c.ts`]);
    const counts = await search({ pattern: "alpha", path: root, caseInsensitive: true, outputMode: "count" });
    expect(counts.output.split("\n")).toEqual([`${root}/.hidden/d.ts:1`, `${root}/src/a.ts:2`, `${root}/src/b.js:1`, `${root}/src/sub/c.ts:1`]);
  });

  it.skipIf(skip)("pages with headLimit and offset, saying where the next page starts", async () => {
    const root = tree({ "many.txt": Array.from({ length: 10 }, (_, i) => `hit ${i + 1}`).join("\n") });
    const first = await search({ pattern: "hit", path: root, headLimit: 4 });
    expect(first.output.split("\n")).toEqual([1, 2, 3, 4].map((n) => `${root}/many.txt:${n}:hit ${n}`).concat("[more results: repeat with offset 4]"));
    const last = await search({ pattern: "hit", path: root, headLimit: 4, offset: 8 });
    expect(last.output.split("\n")).toEqual([`${root}/many.txt:9:hit 9`, `${root}/many.txt:10:hit 10`]);
  });

  it.skipIf(skip)("searches a single file and answers no match with empty output", async () => {
    const root = fixture();
    expect((await search({ pattern: "beta", path: join(root, "src/a.ts") })).output).toBe(`${root}/src/a.ts:2:const beta = 2;`);
    expect(await search({ pattern: "zzz", path: root })).toMatchObject({ success: true, output: "" });
  });

  it.skipIf(skip)("runs a pattern that backtracks in JavaScript, (.+)+X, in time linear in the line", async () => {
    // JavaScript's engine would try 2^60 ways to split this line before saying no.
    const root = tree({ "log.txt": `${"a".repeat(60)}\nends with X: aaaX\n` });
    expect(await search({ pattern: "(.+)+X", path: root })).toMatchObject({ success: true, output: `${root}/log.txt:2:ends with X: aaaX` });
    expect(await search({ pattern: "(a|aa)+$b", path: root })).toMatchObject({ success: true, output: "" });
  });

  it.skipIf(skip)("refuses an invalid regular expression as invalid_params", async () => {
    const root = fixture();
    expect(await search({ pattern: "(unclosed", path: root })).toMatchObject({ success: false, errorCode: "invalid_params" });
  });
});
