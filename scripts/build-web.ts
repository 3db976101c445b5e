import { build, type Metafile } from "esbuild";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

/**
 * The dashboard's script budget. The first page (sign-in, then the machines list) gets the main script and every
 * chunk it imports statically; every other page's code loads when first opened and must stay small on its own (the
 * chart library is the largest). The one exception is the code that checks a form with the protocol's zod schemas
 * (the process form): zod is large, so it comes in a chunk of its own, loaded only when such a form is opened. A
 * build over any budget fails, so a heavy import is noticed where it is made.
 */
export const FIRST_PAGE_BUDGET_BYTES = 120 * 1024;
export const LAZY_CHUNK_BUDGET_BYTES = 64 * 1024;
export const SCHEMA_CHUNK_BUDGET_BYTES = 480 * 1024;

export interface ScriptSizes {
  /** Bytes of script the first page loads before it can draw: the entry and its static imports. */
  firstPage: number;
  firstPageFiles: string[];
  /** The largest chunk loaded later, on demand, without zod. */
  largestLazy: { file: string; bytes: number } | null;
  /** The largest chunk with zod in it (loaded only by a form that checks with the protocol's schemas). */
  largestSchema: { file: string; bytes: number } | null;
}

/** Sizes from esbuild's metafile, following static imports from the entry `app`. */
export function scriptSizes(metafile: Metafile): ScriptSizes {
  const outputs = Object.entries(metafile.outputs).filter(([file]) => file.endsWith(".js"));
  const entry = outputs.find(([, out]) => out.entryPoint?.endsWith("web/src/main.tsx"))?.[0];
  if (!entry) throw new Error("the build has no output for web/src/main.tsx");
  const first = new Set<string>();
  const visit = (file: string) => {
    if (first.has(file)) return;
    first.add(file);
    for (const imp of metafile.outputs[file]?.imports ?? []) if (imp.kind === "import-statement") visit(imp.path);
  };
  visit(entry);
  const hasZod = (file: string) => Object.keys(metafile.outputs[file]?.inputs ?? {}).some((input) => input.includes("node_modules/zod/"));
  const largest = (files: [string, Metafile["outputs"][string]][]) => files.map(([file, out]) => ({ file, bytes: out.bytes })).sort((a, b) => b.bytes - a.bytes)[0] ?? null;
  const lazy = outputs.filter(([file]) => !first.has(file));
  return {
    firstPage: [...first].reduce((sum, file) => sum + (metafile.outputs[file]?.bytes ?? 0), 0),
    firstPageFiles: [...first],
    largestLazy: largest(lazy.filter(([file]) => !hasZod(file))),
    largestSchema: largest(lazy.filter(([file]) => hasZod(file))),
  };
}

export function budgetProblems(sizes: ScriptSizes): string[] {
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const problems: string[] = [];
  if (sizes.firstPage > FIRST_PAGE_BUDGET_BYTES) {
    problems.push(`the first page loads ${kib(sizes.firstPage)} of script, over its budget of ${kib(FIRST_PAGE_BUDGET_BYTES)} (${sizes.firstPageFiles.join(", ")})`);
  }
  if (sizes.largestLazy && sizes.largestLazy.bytes > LAZY_CHUNK_BUDGET_BYTES) {
    problems.push(`${sizes.largestLazy.file} is ${kib(sizes.largestLazy.bytes)}, over the budget of ${kib(LAZY_CHUNK_BUDGET_BYTES)} for a page's own code`);
  }
  if (sizes.largestSchema && sizes.largestSchema.bytes > SCHEMA_CHUNK_BUDGET_BYTES) {
    problems.push(`${sizes.largestSchema.file} is ${kib(sizes.largestSchema.bytes)}, over the budget of ${kib(SCHEMA_CHUNK_BUDGET_BYTES)} for a form's schemas`);
  }
  return problems;
}

/** The dashboard's scripts and style, in memory, with the metafile that says what is in each. */
export function bundleDashboard(root: string) {
  return build({
    absWorkingDir: root,
    entryPoints: { app: "web/src/main.tsx", style: "web/src/styles/app.css" },
    outdir: join(root, "web", "dist", "assets"),
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    target: "es2022",
    minify: true,
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "eof",
    write: false,
    metafile: true,
    logLevel: "warning",
  });
}

/**
 * The dashboard's files, by path under the assets folder: hashed script and style bundles, index.html pointing at
 * them, and the static files from web/public. `scripts/build.ts` writes them. A bundle over budget fails the build.
 */
export async function webFiles(root: string): Promise<{ files: Map<string, Uint8Array>; summary: string }> {
  const web = join(root, "web");
  const result = await bundleDashboard(root);
  const sizes = scriptSizes(result.metafile);
  const problems = budgetProblems(sizes);
  if (problems.length) throw new Error(`dashboard over budget: ${problems.join("; ")}`);

  const files = new Map(result.outputFiles.map((f) => [relative(join(web, "dist"), f.path), f.contents]));
  const find = (re: RegExp) => [...files.keys()].find((p) => re.test(p));
  const script = find(/^assets\/app-[^/]+\.js$/);
  const style = find(/^assets\/style-[^/]+\.css$/);
  if (!script || !style) throw new Error(`build produced no script or style bundle: ${[...files.keys()].join(", ")}`);

  const html = readFileSync(join(web, "index.html"), "utf8").replace("%SCRIPT%", `/${script}`).replace("%STYLE%", `/${style}`);
  files.set("index.html", new TextEncoder().encode(html));
  for (const name of readdirSync(join(web, "public"))) files.set(name, readFileSync(join(web, "public", name)));

  const kib = (bytes: number) => (bytes / 1024).toFixed(1);
  const lazy = sizes.largestLazy ? `, largest page chunk ${kib(sizes.largestLazy.bytes)} KiB` : "";
  const schema = sizes.largestSchema ? `, form schemas ${kib(sizes.largestSchema.bytes)} KiB` : "";
  const summary =
    `dashboard: first page ${kib(sizes.firstPage)} KiB of script (budget ${kib(FIRST_PAGE_BUDGET_BYTES)})${lazy}${schema}, ` +
    `style ${kib(files.get(style)?.byteLength ?? 0)} KiB`;
  return { files, summary };
}
