import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { TOOL_NAMES } from "../../protocol/tools/index.ts";
import { renderToolReference, TOOL_REFERENCE_PATH } from "../../scripts/tool-reference.ts";

describe("docs/chat-tools.md", () => {
  it("is what the generator writes from the catalog today (run npm run docs:tools after changing a tool)", () => {
    expect(readFileSync(TOOL_REFERENCE_PATH, "utf8")).toBe(renderToolReference());
  });

  it("has a section for every tool", () => {
    const reference = renderToolReference();
    for (const name of TOOL_NAMES) expect(reference).toContain(`### \`${name}\``);
  });
});
