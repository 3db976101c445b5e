import { describe, expect, it } from "vitest";
import * as z from "zod";
import { MAX_FRAME_BYTES } from "../../protocol/limits.ts";
import { NodeToHubMessage } from "../../protocol/node-messages.ts";

type JsonSchema = { [key: string]: unknown };

/** Every string without a maximum length and every list without a maximum size in a JSON Schema, by path. */
function unbounded(schema: unknown, path = "$"): string[] {
  if (Array.isArray(schema)) return schema.flatMap((s, i) => unbounded(s, `${path}[${i}]`));
  if (!schema || typeof schema !== "object") return [];
  const s = schema as JsonSchema;
  const found: string[] = [];
  const fixed = "const" in s || "enum" in s;
  if (s.type === "string" && !fixed && typeof s.maxLength !== "number") found.push(`${path}: string without maxLength`);
  if (s.type === "array" && typeof s.maxItems !== "number") found.push(`${path}: list without maxItems`);
  if (s.type === "object" && s.additionalProperties !== undefined && s.additionalProperties !== false) {
    found.push(`${path}: object with open-ended keys`);
  }
  for (const [key, child] of Object.entries(s)) found.push(...unbounded(child, `${path}.${key}`));
  return found;
}

describe("the node protocol", () => {
  it("bounds every string and every list a node can send", () => {
    const schema = z.toJSONSchema(NodeToHubMessage, { io: "input", unrepresentable: "any" });
    expect(unbounded(schema)).toEqual([]);
  });

  it("finds an unbounded field when there is one (the check above can fail)", () => {
    const loose = z.object({ type: z.literal("x"), text: z.string(), list: z.array(z.string().max(3)), map: z.record(z.string(), z.number()) });
    expect(unbounded(z.toJSONSchema(loose, { io: "input" }))).toEqual([
      "$.properties.text: string without maxLength",
      "$.properties.list: list without maxItems",
      "$.properties.map: object with open-ended keys",
      "$.properties.map.propertyNames: string without maxLength",
    ]);
  });

  it("refuses a result, a chunk or a run report larger than its cap", () => {
    const big = "x".repeat(MAX_FRAME_BYTES);
    const base = { directiveId: "d-1" };
    expect(NodeToHubMessage.safeParse({ type: "result", ...base, success: true, output: big, durationMs: 1 }).success).toBe(false);
    expect(NodeToHubMessage.safeParse({ type: "stream_chunk", ...base, seq: 0, chunk: big }).success).toBe(false);
    const run = { type: "run_complete", ...base, runId: "run-1", state: "done", exitCode: 0, startedAt: 1, endedAt: 2 };
    expect(NodeToHubMessage.safeParse({ ...run, outputTail: big }).success).toBe(false);
    expect(NodeToHubMessage.safeParse({ ...run, outputTail: "tail" }).success).toBe(true);
  });
});
