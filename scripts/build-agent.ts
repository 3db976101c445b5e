import { build, type Plugin } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { AGENT_RELEASE_PATH, INSTALL_SCRIPT_PATH, type AgentRelease } from "../protocol/agent-release.ts";

/** What the bundle needs, from package.json's `engines.node` (`>=20`). */
const NODE_MAJOR = 20;
/** Stands for the build id while the code it is derived from is hashed. */
const BUILD_ID_PLACEHOLDER = "0000cortexbuildid0000";
const BUILD_ID_LENGTH = 12;

/**
 * Where the hub serves the agent: public, so each file gets its caching here. The bundle's name changes with its
 * content, so it is cached for good; the script and the release name the current bundle, so they are revalidated on
 * every use. The script is plain text, so a browser shows it for reading instead of downloading it.
 */
export const AGENT_HEADER_RULES: string[][] = [
  [INSTALL_SCRIPT_PATH, "  Content-Type: text/plain; charset=utf-8", "  Cache-Control: no-cache"],
  [AGENT_RELEASE_PATH, "  Cache-Control: no-cache"],
  ["/agent/cortex-*", "  Content-Type: text/javascript; charset=utf-8", "  Cache-Control: public, max-age=31536000, immutable"],
];

/**
 * zod's `z.locales` with English only. zod registers English as its default itself (it imports `locales/en.js`
 * directly) and the agent sets no other locale, but the namespace carries every language: a quarter of the bundle's
 * text (260 KB), which Node keeps in memory as the script's source for as long as the agent runs (0.4 MiB of heap).
 */
const ZOD_ENGLISH_ONLY: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, ({ importer }) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(importer) ? { path: join(dirname(importer), "..", "locales", "index.js"), namespace: "zod-english-only" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-english-only" }, ({ path }) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(path), "en.js"))};`,
      loader: "js",
      resolveDir: dirname(path),
    }));
  },
};

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * The agent as one file that needs only Node (every dependency inside), the release that names it, and the install
 * script that carries its SHA-256, by path under the assets folder. The version is the package's plus a build id
 * taken from the hash of the code itself, so the same sources always give the same bundle and any change gives a new
 * version, which is how the hub tells an outdated agent.
 */
export async function agentFiles(root: string): Promise<{ files: Map<string, Uint8Array>; release: AgentRelease; summary: string }> {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const result = await build({
    absWorkingDir: root,
    entryPoints: ["agent/bundle-entry.ts"],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    legalComments: "eof",
    write: false,
    outfile: "cortex.mjs",
    // ws loads these native speed-ups if present and works without them.
    external: ["bufferutil", "utf-8-validate"],
    plugins: [ZOD_ENGLISH_ONLY],
    define: { CORTEX_BUNDLE_VERSION: JSON.stringify(`${pkg.version}+${BUILD_ID_PLACEHOLDER}`) },
    // Bundled CommonJS dependencies call require() for Node's own modules.
    banner: { js: '#!/usr/bin/env node\nimport { createRequire as __cortexCreateRequire } from "node:module";\nconst require = __cortexCreateRequire(import.meta.url);' },
    logLevel: "warning",
  });
  const draft = result.outputFiles[0]!.text;
  if (!draft.includes(BUILD_ID_PLACEHOLDER)) throw new Error("the agent bundle does not carry its version");
  const buildId = sha256(draft).slice(0, BUILD_ID_LENGTH);
  const bundle = new TextEncoder().encode(draft.replaceAll(BUILD_ID_PLACEHOLDER, buildId));

  const release: AgentRelease = {
    version: `${pkg.version}+${buildId}`,
    bundle: `/agent/cortex-${buildId}.mjs`,
    sha256: sha256(bundle),
    bytes: bundle.byteLength,
    nodeMajor: NODE_MAJOR,
  };
  const script = readFileSync(join(root, "agent", "install", "install.sh"), "utf8")
    .replaceAll("@AGENT_VERSION@", release.version)
    .replaceAll("@AGENT_PATH@", release.bundle)
    .replaceAll("@AGENT_SHA256@", release.sha256)
    .replaceAll("@NODE_MAJOR@", String(release.nodeMajor));
  if (/@[A-Z_]+@/.test(script)) throw new Error(`install.sh has an unfilled placeholder: ${/@[A-Z_]+@/.exec(script)![0]}`);

  const encoder = new TextEncoder();
  const files = new Map<string, Uint8Array>([
    [release.bundle.slice(1), bundle],
    [AGENT_RELEASE_PATH.slice(1), encoder.encode(`${JSON.stringify(release, null, 2)}\n`)],
    [INSTALL_SCRIPT_PATH.slice(1), encoder.encode(script)],
  ]);
  return { files, release, summary: `agent ${release.version}: ${release.bundle} ${(release.bytes / 1024).toFixed(1)} KiB` };
}
