import { describe, expect, it } from "vitest";
import { localPath } from "../../web/src/local-path.ts";

const ORIGIN = "https://hub.example.com";

describe("where the dashboard goes after signing in", () => {
  it("keeps a path of its own, with its query and fragment", () => {
    expect(localPath("/machines/web-1?tab=logs#top", ORIGIN)).toBe("/machines/web-1?tab=logs#top");
    expect(localPath("/sites/a/../b", ORIGIN)).toBe("/sites/b");
  });

  it("refuses anything the browser would read as another origin, or not a path at all", () => {
    for (const next of ["//evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example", "https://evil.example/", "javascript:alert(1)", "machines", "", null]) {
      expect(localPath(next, ORIGIN), String(next)).toBeNull();
    }
  });
});
