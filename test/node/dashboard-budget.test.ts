import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { budgetProblems, bundleDashboard, FIRST_PAGE_BUDGET_BYTES, LAZY_CHUNK_BUDGET_BYTES, scriptSizes } from "../../scripts/build-web.ts";

/**
 * The dashboard's size budget, measured on the real production bundle (the build fails above it too): the first
 * page's script, and each page's own chunk. Heavy libraries stay out of the first page.
 */
describe("the dashboard's script budget", () => {
  it("keeps the first page within budget, without the chart library or zod, and every later chunk small", async () => {
    const result = await bundleDashboard(resolve(import.meta.dirname, "..", ".."));
    const sizes = scriptSizes(result.metafile);
    expect(budgetProblems(sizes)).toEqual([]);
    expect(sizes.firstPage).toBeGreaterThan(10 * 1024);
    expect(sizes.firstPage).toBeLessThanOrEqual(FIRST_PAGE_BUDGET_BYTES);
    expect(sizes.largestLazy!.bytes).toBeLessThanOrEqual(LAZY_CHUNK_BUDGET_BYTES);
    const firstPageInputs = sizes.firstPageFiles.flatMap((file) => Object.keys(result.metafile.outputs[file]!.inputs));
    expect(firstPageInputs.filter((input) => /node_modules\/(uplot|zod|anser)\//.test(input))).toEqual([]);
    expect(firstPageInputs).toContain("web/src/pages/Machines.tsx");
    expect(firstPageInputs).not.toContain("web/src/pages/MachineDetail.tsx");
    const everything = Object.values(result.metafile.outputs).flatMap((out) => Object.keys(out.inputs));
    expect(everything.filter((input) => input.includes("node_modules/zod/"))).toEqual([]);
  }, 60_000);

  it("names what is over budget", () => {
    const problems = budgetProblems({
      firstPage: FIRST_PAGE_BUDGET_BYTES + 1,
      firstPageFiles: ["web/dist/assets/app-X.js"],
      largestLazy: { file: "web/dist/assets/chunk-Y.js", bytes: LAZY_CHUNK_BUDGET_BYTES + 1 },
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain("the first page loads 120.0 KiB of script, over its budget of 120.0 KiB (web/dist/assets/app-X.js)");
    expect(problems[1]).toContain("web/dist/assets/chunk-Y.js is 64.0 KiB");
    expect(budgetProblems({ firstPage: FIRST_PAGE_BUDGET_BYTES, firstPageFiles: [], largestLazy: null })).toEqual([]);
  });
});
