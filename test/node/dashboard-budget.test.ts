import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { budgetProblems, bundleDashboard, FIRST_PAGE_BUDGET_BYTES, LAZY_CHUNK_BUDGET_BYTES, SCHEMA_CHUNK_BUDGET_BYTES, scriptSizes } from "../../scripts/build-web.ts";

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
    // zod comes only with the process form, in a chunk of its own that the machine page does not load until an admin
    // opens the form.
    const withZod = Object.entries(result.metafile.outputs).filter(([, out]) => Object.keys(out.inputs).some((input) => input.includes("node_modules/zod/")));
    expect(withZod.map(([file]) => file)).toEqual([sizes.largestSchema!.file]);
    expect(Object.keys(withZod[0]![1].inputs)).toContain("web/src/components/ProcessForm.tsx");
    const machinePage = Object.entries(result.metafile.outputs).find(([, out]) => "web/src/pages/MachineDetail.tsx" in out.inputs)!;
    const loadedWithIt = new Set<string>();
    const visit = (file: string) => {
      if (loadedWithIt.has(file)) return;
      loadedWithIt.add(file);
      for (const imp of result.metafile.outputs[file]?.imports ?? []) if (imp.kind === "import-statement") visit(imp.path);
    };
    visit(machinePage[0]);
    expect([...loadedWithIt].filter((file) => file === sizes.largestSchema!.file)).toEqual([]);
    expect(sizes.largestSchema!.bytes).toBeLessThanOrEqual(SCHEMA_CHUNK_BUDGET_BYTES);
  }, 60_000);

  it("names what is over budget", () => {
    const problems = budgetProblems({
      firstPage: FIRST_PAGE_BUDGET_BYTES + 1,
      firstPageFiles: ["web/dist/assets/app-X.js"],
      largestLazy: { file: "web/dist/assets/chunk-Y.js", bytes: LAZY_CHUNK_BUDGET_BYTES + 1 },
      largestSchema: { file: "web/dist/assets/chunk-Z.js", bytes: SCHEMA_CHUNK_BUDGET_BYTES + 1 },
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain("the first page loads 120.0 KiB of script, over its budget of 120.0 KiB (web/dist/assets/app-X.js)");
    expect(problems[1]).toContain("web/dist/assets/chunk-Y.js is 64.0 KiB");
    expect(problems[2]).toContain("web/dist/assets/chunk-Z.js is 480.0 KiB, over the budget of 480.0 KiB for a form's schemas");
    expect(budgetProblems({ firstPage: FIRST_PAGE_BUDGET_BYTES, firstPageFiles: [], largestLazy: null, largestSchema: null })).toEqual([]);
  });
});
