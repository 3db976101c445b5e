import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashFileChunks } from "../../agent/roost/chunk-hash.ts";
import { HashCache } from "../../agent/roost/hash-cache.ts";
import { scanFolder, ScanError } from "../../agent/roost/scan-folder.ts";
import { chunkCount, ROOST_CHUNK_BYTES, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { bytesOf, MiB, Scratch, sha256, writeFiles } from "./roost-fixtures.ts";

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

describe("chunking", () => {
  const SIZES: [string, number][] = [
    ["0 bytes", 0],
    ["1 byte", 1],
    ["4 MiB - 1", 4 * MiB - 1],
    ["4 MiB", 4 * MiB],
    ["4 MiB + 1", 4 * MiB + 1],
  ];

  it.each(SIZES)("cuts a file of %s into 4 MiB chunks whose hashes are those of the pieces", async (_label, size) => {
    const dir = scratch.dir();
    const data = bytesOf(size, size + 7);
    writeFileSync(join(dir, "f"), data);
    const { size: read, chunks } = await hashFileChunks(join(dir, "f"));
    expect(read).toBe(size);
    expect(chunks).toHaveLength(chunkCount(size));
    const expected: string[] = [];
    for (let at = 0; at < size; at += ROOST_CHUNK_BYTES) expected.push(sha256(data.subarray(at, at + ROOST_CHUNK_BYTES)));
    expect(chunks).toEqual(expected);
    if (size === 4 * MiB + 1) expect(sha256(data.subarray(4 * MiB))).toBe(chunks[1]);
  });

  it("gives the same chunk the same hash wherever it appears", async () => {
    const dir = scratch.dir();
    const block = bytesOf(ROOST_CHUNK_BYTES, 1);
    writeFiles(dir, { a: Buffer.concat([block, block]), b: block });
    const scan = await scanFolder(dir, { cache: new HashCache(null, dir) });
    const [a, b] = scan.files as [ManifestEntry, ManifestEntry];
    expect(a.type === "file" && a.chunks[0] === a.chunks[1]).toBe(true);
    expect(b.type === "file" && a.type === "file" && b.chunks[0] === a.chunks[0]).toBe(true);
    expect(scan.sources.size).toBe(1);
  });
});

describe("scanning a folder", () => {
  it("lists folders, files and symlinks in path order with their modes, minus what .roostignore leaves out", async () => {
    const dir = scratch.dir();
    writeFiles(dir, {
      ".roostignore": "*.log\nbuild/\n!keep.log\n",
      "src/main.js": "console.log(1)\n",
      "src/debug.log": "noise",
      "keep.log": "kept",
      "build/out.bin": "x",
      "bin/run": "#!/bin/sh\n",
    });
    const { chmodSync, mkdirSync, symlinkSync } = await import("node:fs");
    chmodSync(join(dir, "bin/run"), 0o755);
    mkdirSync(join(dir, "empty"));
    symlinkSync("../src/main.js", join(dir, "bin/main"));
    const scan = await scanFolder(dir, { cache: new HashCache(null, dir) });
    expect(scan.files.map((f) => `${f.type} ${f.path}`)).toEqual([
      "file .roostignore",
      "dir bin",
      "symlink bin/main",
      "file bin/run",
      "dir empty",
      "file keep.log",
      "dir src",
      "file src/main.js",
    ]);
    expect(scan.files.find((f) => f.path === "bin/run")).toMatchObject({ mode: 0o755 });
    expect(scan.files.find((f) => f.path === "bin/main")).toMatchObject({ target: "../src/main.js" });
    expect(scan.notes).toContain("2 path(s) left out by .roostignore");
  });

  it("refuses a folder with a symlink that leads out of it, naming it", async () => {
    const dir = scratch.dir();
    writeFiles(dir, { "a.txt": "a" });
    const { symlinkSync } = await import("node:fs");
    symlinkSync("/etc/passwd", join(dir, "abs"));
    symlinkSync("../../outside", join(dir, "up"));
    const error = await scanFolder(dir, { cache: new HashCache(null, dir) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScanError);
    expect((error as Error).message).toMatch(/abs: target is absolute/);
    expect((error as Error).message).toMatch(/up -> \.\.\/\.\.\/outside: its target leads out of the version folder/);
  });

  it("re-reads only files whose identity changed, with the hash cache", async () => {
    const dir = scratch.dir();
    const cacheDir = scratch.dir();
    writeFiles(dir, { a: bytesOf(1000, 1), b: bytesOf(1000, 2) });
    const first = await scanFolder(dir, { cache: new HashCache(cacheDir, dir) });
    expect(first.hashedBytes).toBe(2000);
    const second = await scanFolder(dir, { cache: new HashCache(cacheDir, dir) });
    expect(second.hashedBytes).toBe(0);
    expect(second.files).toEqual(first.files);
    writeFiles(dir, { b: bytesOf(1500, 3) });
    const third = await scanFolder(dir, { cache: new HashCache(cacheDir, dir) });
    expect(third.hashedBytes).toBe(1500);
    expect(third.files.find((f) => f.path === "b")).toMatchObject({ size: 1500, chunks: [sha256(bytesOf(1500, 3))] });
  });
});
