import { afterEach, describe, expect, it } from "vitest";
import { MAX_CHUNK_BYTES, MAX_FRAME_BYTES, MAX_RESULT_OUTPUT_BYTES, MAX_STORED_OUTPUT_BYTES } from "../../protocol/limits.ts";
import { directive, executor, FakeHub, isolateHome, cleanUp, run } from "./executor-harness.ts";

isolateHome();
afterEach(cleanUp);

describe("bash output streaming", () => {
  it("streams chunks numbered 0..n without gaps whose concatenation is the command's output, all before the result", async () => {
    const hub = new FakeHub();
    const message = directive("bash", { command: "for i in $(seq 1 200); do echo line-$i; done; echo oops >&2" });
    const result = await run(executor(), hub, message);
    const chunks = hub.chunks(message.id);
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
    const expected = Array.from({ length: 200 }, (_, i) => `line-${i + 1}\n`).join("");
    expect(chunks.filter((c) => c.stream === "stdout").map((c) => c.chunk).join("")).toBe(expected);
    expect(chunks.filter((c) => c.stream === "stderr").map((c) => c.chunk).join("")).toBe("oops\n");
    const resultIndex = hub.messages.indexOf(result);
    expect(hub.messages.findIndex((m) => m.type === "stream_chunk" && m.directiveId === message.id)).toBeLessThan(resultIndex);
    expect(hub.messages.slice(resultIndex + 1).some((m) => m.type === "stream_chunk")).toBe(false);
    expect(result).toMatchObject({ success: true, exitCode: 0, output: `${expected}oops\n` });
    expect(result.truncated).toBeUndefined();
  });

  it("sends chunks while the command is still running, not after it ends", async () => {
    const hub = new FakeHub();
    const message = directive("bash", { command: "echo first; sleep 1; echo second" });
    executor().run(message, hub.send);
    const deadline = Date.now() + 5_000;
    while (hub.chunks(message.id).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(hub.chunks(message.id)[0]?.chunk).toBe("first\n");
    expect(hub.results(message.id)).toHaveLength(0);
    expect((await hub.result(message.id)).output).toBe("first\nsecond\n");
  });

  it("streams bash even when the directive did not ask for streaming, and other actions only when asked", async () => {
    const hub = new FakeHub();
    const agent = executor();
    const bash = directive("bash", { command: "echo hi" }, { stream: false });
    await run(agent, hub, bash);
    expect(hub.chunks(bash.id).map((c) => c.chunk).join("")).toBe("hi\n");
    const glob = directive("glob", { pattern: "*", path: "/" });
    await run(agent, hub, glob);
    expect(hub.chunks(glob.id)).toHaveLength(0);
  });

  it("keeps multi-byte characters whole when output is cut into chunks", async () => {
    const hub = new FakeHub();
    const message = directive("bash", { command: `printf 'é%.0s' $(seq 1 70000)` });
    const result = await run(executor(), hub, message);
    const chunks = hub.chunks(message.id);
    expect(chunks.length).toBeGreaterThan(2);
    for (const chunk of chunks) expect(Buffer.byteLength(chunk.chunk)).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(chunks.map((c) => c.chunk).join("")).toBe("é".repeat(70_000));
    expect(result.output).toBe("é".repeat(70_000));
  });
});

describe("output caps", () => {
  it("keeps the head of a large output in the result, marks it truncated, and stops streaming at the stored cap with one marker chunk", async () => {
    const hub = new FakeHub();
    const total = MAX_STORED_OUTPUT_BYTES + 300 * 1024;
    const message = directive("bash", { command: `head -c ${total} /dev/zero | tr '\\0' 'x'` });
    const result = await run(executor(), hub, message);
    expect(result.success).toBe(true);
    expect(result.truncated).toBe(true);
    const [head, marker] = result.output.split("\n");
    expect(head).toBe("x".repeat(MAX_RESULT_OUTPUT_BYTES));
    expect(marker).toContain(`output truncated: the result keeps the first ${MAX_RESULT_OUTPUT_BYTES} of ${total} bytes`);

    const chunks = hub.chunks(message.id);
    const last = chunks.at(-1)!;
    expect(last.chunk).toContain(`streaming stopped after ${MAX_STORED_OUTPUT_BYTES} bytes`);
    expect(chunks.filter((c) => c.chunk.includes("streaming stopped"))).toHaveLength(1);
    expect(chunks.slice(0, -1).map((c) => c.chunk).join("")).toBe("x".repeat(MAX_STORED_OUTPUT_BYTES));
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i));
  });

  it("shrinks a result whose escaped JSON would outgrow a frame", async () => {
    const hub = new FakeHub();
    const message = directive("bash", { command: `head -c ${MAX_RESULT_OUTPUT_BYTES} /dev/zero | tr '\\0' '\\001'` });
    const result = await run(executor(), hub, message);
    expect(Buffer.byteLength(JSON.stringify(result))).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(result.truncated).toBe(true);
    expect(result.output).toContain("[output truncated to fit one frame]");
    expect(result.output.startsWith("\u0001".repeat(1000))).toBe(true);
  });
});
