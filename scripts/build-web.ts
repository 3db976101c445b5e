import { build } from "esbuild";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

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
 * them, and the static files from web/public. `scripts/build.ts` writes them.
 */
export async function webFiles(root: string): Promise<{ files: Map<string, Uint8Array>; summary: string }> {
  const web = join(root, "web");
  const result = await bundleDashboard(root);

  const files = new Map(result.outputFiles.map((f) => [relative(join(web, "dist"), f.path), f.contents]));
  const find = (re: RegExp) => [...files.keys()].find((p) => re.test(p));
  const script = find(/^assets\/app-[^/]+\.js$/);
  const style = find(/^assets\/style-[^/]+\.css$/);
  if (!script || !style) throw new Error(`build produced no script or style bundle: ${[...files.keys()].join(", ")}`);

  const html = readFileSync(join(web, "index.html"), "utf8").replace("%SCRIPT%", `/${script}`).replace("%STYLE%", `/${style}`);
  files.set("index.html", new TextEncoder().encode(html));
  for (const name of readdirSync(join(web, "public"))) files.set(name, readFileSync(join(web, "public", name)));

  const kib = (p: string) => ((files.get(p)?.byteLength ?? 0) / 1024).toFixed(1);
  return { files, summary: `dashboard: ${script} ${kib(script)} KiB, ${style} ${kib(style)} KiB` };
}
