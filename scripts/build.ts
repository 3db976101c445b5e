import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PAGE_SECURITY_HEADERS } from "../worker/http/security-headers.ts";
import { agentFiles, AGENT_HEADER_RULES } from "./build-agent.ts";
import { webFiles } from "./build-web.ts";

/**
 * Builds everything the hub serves as static assets into web/dist: the dashboard (scripts/build-web.ts), the agent
 * bundle and its install script (scripts/build-agent.ts), and the `_headers` file that puts the security headers on
 * every page and the right caching on each file. Wrangler runs it as the `[build]` step, so `npm start`,
 * `wrangler dev` and `wrangler deploy` all serve a fresh build; the workerd tests run it as their global setup, since
 * the Worker cannot start without its assets folder.
 *
 * A running `wrangler dev` serves from the folder while this runs (it may run the build more than once), so the
 * folder is never emptied: files whose content is unchanged are left alone, new ones are written, and only then are
 * the ones no longer produced removed. Building twice in a row changes nothing.
 */
const root = resolve(import.meta.dirname, "..");
const dist = join(root, "web", "dist");

function headersFile(): string {
  const page = Object.entries(PAGE_SECURITY_HEADERS).map(([name, value]) => `  ${name}: ${value}`);
  const rules = [["/*", ...page], ["/assets/*", "  Cache-Control: public, max-age=31536000, immutable"], ...AGENT_HEADER_RULES];
  return `${rules.map((lines) => lines.join("\n")).join("\n")}\n`;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Writes `files` (path under dist → content) into dist, touching only what changed, then drops the rest. */
function sync(files: Map<string, Uint8Array>): void {
  const wanted = new Set<string>();
  for (const [name, content] of files) {
    const path = join(dist, name);
    wanted.add(path);
    if (existsSync(path) && Buffer.compare(readFileSync(path), content) === 0) continue;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  for (const path of filesUnder(dist)) if (!wanted.has(path)) rmSync(path);
}

export default async function buildAll(): Promise<void> {
  const [web, agent] = await Promise.all([webFiles(root), agentFiles(root)]);
  const files = new Map([...web.files, ...agent.files]);
  files.set("_headers", new TextEncoder().encode(headersFile()));
  sync(files);
  console.log(`built ${web.summary}; ${agent.summary}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await buildAll();
