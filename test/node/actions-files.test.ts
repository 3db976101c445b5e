import { readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_READ_BYTES } from "../../protocol/limits.ts";
import { FakeHub, directive, executor, cleanUp, run, tempDir } from "./executor-harness.ts";

afterEach(cleanUp);

const call = (action: Parameters<typeof directive>[0], params: Record<string, unknown>) => run(executor(), new FakeHub(), directive(action, params));

describe("read", () => {
  it("numbers lines like cat -n and honours offset and limit", async () => {
    const file = join(tempDir(), "lines.txt");
    writeFileSync(file, Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join("\r\n") + "\n");
    expect((await call("read", { path: file })).output.split("\n")).toHaveLength(10);
    const page = await call("read", { path: file, offset: 3, limit: 2 });
    expect(page).toMatchObject({ success: true, output: "     3\tline 3\n     4\tline 4" });
    const past = await call("read", { path: file, offset: 12 });
    expect(past).toMatchObject({ success: false, errorCode: "invalid_params" });
    expect(past.error).toContain("past the end");
  });

  it("returns images by their magic bytes, whatever their name, as base64 data", async () => {
    const dir = tempDir();
    const images = {
      "image/png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
      "image/jpeg": Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]),
      "image/gif": Buffer.from("GIF89a\x01\x00\x01\x00", "latin1"),
      "image/webp": Buffer.concat([Buffer.from("RIFF"), Buffer.from([0x24, 0, 0, 0]), Buffer.from("WEBPVP8 ")]),
    };
    for (const [mediaType, bytes] of Object.entries(images)) {
      const file = join(dir, `picture-${mediaType.split("/")[1]}.dat`);
      writeFileSync(file, bytes);
      const result = await call("read", { path: file });
      expect(result).toMatchObject({ success: true, data: { kind: "image", mediaType, base64: bytes.toString("base64") } });
    }
  });

  it("refuses binary files, directories, missing files and files over the size limit with clear errors", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "blob.bin"), Buffer.from([0x41, 0x00, 0x42]));
    const binary = await call("read", { path: join(dir, "blob.bin") });
    expect(binary).toMatchObject({ success: false, errorCode: "invalid_params" });
    expect(binary.error).toContain("binary file");
    expect((await call("read", { path: dir })).error).toContain("is a directory");
    expect(await call("read", { path: join(dir, "missing.txt") })).toMatchObject({ errorCode: "not_found" });
    writeFileSync(join(dir, "huge.txt"), "");
    truncateSync(join(dir, "huge.txt"), MAX_READ_BYTES + 1);
    expect(await call("read", { path: join(dir, "huge.txt") })).toMatchObject({ errorCode: "too_large" });
  });

  it("reads a file of exactly the size limit whole, to its last byte, and an empty file as empty", async () => {
    const dir = tempDir();
    const line = `${"x".repeat(1023)}\n`;
    const last = "the last line";
    const body = line.repeat(Math.floor((MAX_READ_BYTES - last.length) / line.length));
    writeFileSync(join(dir, "full.txt"), body + "y".repeat(MAX_READ_BYTES - body.length - last.length) + last);
    const lines = body.split("\n").length;
    const full = await call("read", { path: join(dir, "full.txt"), offset: lines, limit: 1 });
    expect(full).toMatchObject({ success: true });
    expect(full.output.endsWith(last)).toBe(true);
    writeFileSync(join(dir, "empty.txt"), "");
    expect(await call("read", { path: join(dir, "empty.txt") })).toMatchObject({ success: true, output: "" });
  });

  it.runIf(process.platform === "linux")("reads a file that reports no size to its end, and stops at the limit one that never ends", async () => {
    // /proc files say they are empty; the text is made as it is read.
    const status = await call("read", { path: "/proc/self/status" });
    expect(status).toMatchObject({ success: true });
    expect(status.output).toMatch(/\bName:\t/);
    expect(status.output).toMatch(/\bVmRSS:/);
    // A process's page map reports no size and goes on for its whole address space (many GiB): it is refused once
    // past the limit, not read to its end.
    const before = process.memoryUsage().rss;
    expect(await call("read", { path: "/proc/self/pagemap" })).toMatchObject({ success: false, errorCode: "too_large" });
    expect(process.memoryUsage().rss - before).toBeLessThan(4 * MAX_READ_BYTES);
  });
});

describe("read's descriptors", () => {
  const openDescriptors = () => readdirSync("/proc/self/fd").length;

  it.runIf(process.platform === "linux")("are all closed after reads, refusals and errors, though nothing waits for the closes", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "small.txt"), "hello\n");
    writeFileSync(join(dir, "blob.bin"), Buffer.from([0x41, 0x00, 0x42]));
    writeFileSync(join(dir, "huge.txt"), "");
    truncateSync(join(dir, "huge.txt"), MAX_READ_BYTES + 1);
    await call("read", { path: join(dir, "small.txt") });
    const before = openDescriptors();
    for (let i = 0; i < 20; i++) {
      expect(await call("read", { path: join(dir, "small.txt") })).toMatchObject({ success: true });
      expect(await call("read", { path: join(dir, "blob.bin") })).toMatchObject({ errorCode: "invalid_params" });
      expect(await call("read", { path: join(dir, "huge.txt") })).toMatchObject({ errorCode: "too_large" });
      expect(await call("read", { path: dir })).toMatchObject({ errorCode: "invalid_params" });
    }
    // The closes were queued, not awaited: give the thread pool a moment to run them.
    await vi.waitFor(() => expect(openDescriptors()).toBeLessThanOrEqual(before), { timeout: 2_000 });
  });
});

describe("write", () => {
  it("creates missing parent folders and overwrites existing files", async () => {
    const file = join(tempDir(), "a", "b", "c.txt");
    expect(await call("write", { path: file, content: "first" })).toMatchObject({ success: true, output: `wrote 5 bytes to ${file}` });
    await call("write", { path: file, content: "second" });
    expect(readFileSync(file, "utf8")).toBe("second");
  });

  it("decodes base64 content and refuses content that is not base64", async () => {
    const file = join(tempDir(), "bytes.bin");
    await call("write", { path: file, content: Buffer.from([0, 1, 2, 255]).toString("base64"), encoding: "base64" });
    expect([...readFileSync(file)]).toEqual([0, 1, 2, 255]);
    const bad = await call("write", { path: file, content: "not base64!", encoding: "base64" });
    expect(bad).toMatchObject({ success: false, errorCode: "invalid_params" });
    expect([...readFileSync(file)]).toEqual([0, 1, 2, 255]);
  });
});

describe("edit", () => {
  function fileWith(text: string): string {
    const file = join(tempDir(), "edit.txt");
    writeFileSync(file, text);
    return file;
  }

  it("replaces a string that occurs exactly once, taking the replacement literally", async () => {
    const file = fileWith("alpha beta gamma");
    const result = await call("edit", { path: file, oldString: "beta", newString: "$& and $1" });
    expect(result).toMatchObject({ success: true, output: `replaced 1 occurrence in ${file}` });
    expect(readFileSync(file, "utf8")).toBe("alpha $& and $1 gamma");
  });

  it("reports a missing string as not_found and leaves the file alone", async () => {
    const file = fileWith("alpha");
    expect(await call("edit", { path: file, oldString: "omega", newString: "x" })).toMatchObject({ errorCode: "not_found" });
    expect(readFileSync(file, "utf8")).toBe("alpha");
  });

  it("reports an ambiguous string as a conflict saying how many times it occurs", async () => {
    const file = fileWith("x = 1; x = 2; x = 3");
    const result = await call("edit", { path: file, oldString: "x =", newString: "y =" });
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(result.error).toContain("occurs 3 times");
    expect(readFileSync(file, "utf8")).toBe("x = 1; x = 2; x = 3");
  });

  it("replaces every occurrence with replaceAll", async () => {
    const file = fileWith("x = 1; x = 2; x = 3");
    expect((await call("edit", { path: file, oldString: "x =", newString: "y =", replaceAll: true })).output).toContain("3 occurrences");
    expect(readFileSync(file, "utf8")).toBe("y = 1; y = 2; y = 3");
  });
});
