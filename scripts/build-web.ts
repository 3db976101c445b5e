import { build } from "esbuild";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PAGE_SECURITY_HEADERS } from "../worker/http/security-headers.ts";

/**
 * Builds the dashboard into web/dist: hashed script and style bundles, index.html pointing at them, the static
 * files from web/public, and the `_headers` file that puts the security headers on every page. Wrangler runs it as
 * the `[build]` step, so `npm start`, `wrangler dev` and `wrangler deploy` all serve a fresh build; the workerd tests
 * run it as their global setup, since the Worker cannot start without its assets folder.
 *
 * A running `wrangler dev` serves from the folder while this runs (it may run the build more than once), so the
 * folder is never emptied: files whose content is unchanged are left alone, new ones are written, and only then are
 * the ones no longer produced removed. Building twice in a row changes nothing.
 */
const root = resolve(import.meta.dirname, "..");
const web = join(root, "web");
const dist = join(web, "dist");

function headersFile(): string {
  const page = Object.entries(PAGE_SECURITY_HEADERS).map(([name, value]) => `  ${name}: ${value}`);
  return ["/*", ...page, "/assets/*", "  Cache-Control: public, max-age=31536000, immutable", ""].join("\n");
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Writes `files` (absolute path → content) into dist, touching only what changed, then drops the rest. */
function sync(files: Map<string, Uint8Array>): void {
  for (const [path, content] of files) {
    if (existsSync(path) && Buffer.compare(readFileSync(path), content) === 0) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  for (const path of filesUnder(dist)) if (!files.has(path)) rmSync(path);
}

export default async function buildWeb(): Promise<void> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { app: "web/src/main.tsx", style: "web/src/styles/app.css" },
    outdir: join(dist, "assets"),
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
    logLevel: "warning",
  });

  const files = new Map(result.outputFiles.map((f) => [f.path, f.contents]));
  const find = (re: RegExp) => [...files.keys()].map((p) => relative(dist, p)).find((p) => re.test(p));
  const script = find(/^assets\/app-[^/]+\.js$/);
  const style = find(/^assets\/style-[^/]+\.css$/);
  if (!script || !style) throw new Error(`build produced no script or style bundle: ${[...files.keys()].join(", ")}`);

  const encoder = new TextEncoder();
  const html = readFileSync(join(web, "index.html"), "utf8").replace("%SCRIPT%", `/${script}`).replace("%STYLE%", `/${style}`);
  files.set(join(dist, "index.html"), encoder.encode(html));
  files.set(join(dist, "_headers"), encoder.encode(headersFile()));
  for (const name of readdirSync(join(web, "public"))) files.set(join(dist, name), readFileSync(join(web, "public", name)));
  sync(files);

  const kib = (p: string) => ((files.get(join(dist, p))?.byteLength ?? 0) / 1024).toFixed(1);
  console.log(`dashboard built: ${script} ${kib(script)} KiB, ${style} ${kib(style)} KiB`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildWeb();
