import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { agentFiles } from "../../scripts/build-agent.ts";
import { emptyDir, REPO, runCli, type CliResult } from "./cli-run.ts";

const NODE = "cli-install";
const TOKEN = `cxn_${NODE}_${randomBytes(32).toString("hex")}`;
let bundle: string;
let version: string;

beforeAll(async () => {
  const { files, release } = await agentFiles(REPO);
  bundle = join(emptyDir(), "cortex.mjs");
  writeFileSync(bundle, files.get(release.bundle.slice(1))!);
  version = release.version;
});

/** The bundle as the install script runs it: its own session, so it has no terminal to ask on. */
function runBundle(args: string[], stdin = ""): Promise<CliResult> {
  const child = spawn(process.execPath, [bundle, ...args], { cwd: emptyDir(), env: { PATH: process.env.PATH ?? "" }, detached: true });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (t: string) => (stdout += t));
  child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

function install(prefix: string, ...more: string[]): string[] {
  return ["agent", "install", "--prefix", prefix, "--no-service", "--endpoint", "http://127.0.0.1:9/api/sites/default", "--tier", "root", ...more];
}

describe("cortex agent install, as the bundle runs it", () => {
  it("carries zod's English messages and no other language, and reports a bad setting in English", async () => {
    const text = readFileSync(bundle, "utf8");
    expect(text).toContain("Invalid input");
    // The Indonesian locale's "Invalid input": in every bundle that carries zod's other languages.
    expect(text).not.toContain("Input tidak valid");
    const config = join(emptyDir(), "config.json");
    writeFileSync(config, JSON.stringify({ connect: { endpoint: "http://127.0.0.1:9", tokenFile: "/nonexistent", heartbeatMs: "often" } }));
    const result = await runBundle(["node", "connect", "--config", config]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("heartbeatMs: Invalid input: expected number, received string");
  });

  it("carries only the parts of zod the code uses", () => {
    const text = readFileSync(bundle, "utf8");
    // zod's schema compiler and JSON Schema importer, which nothing here uses: in the bundle as soon as one module
    // imports the `z` object (`import { z } from "zod"`) instead of the namespace (`import * as z from "zod"`).
    expect(text).not.toContain("ZodCompileUnsupportedError");
    expect(text).not.toContain("fromJSONSchema");
    expect(text).toContain("Invalid input");
  });

  it("reports the bundle's own version", async () => {
    expect((await runBundle(["--version"])).stdout).toBe(`${version}\n`);
  });

  it("refuses a token on the command line, says why and to rotate it, and installs nothing", async () => {
    const prefix = join(emptyDir(), "cortex");
    for (const form of [["--token", TOKEN], [`--token=${TOKEN}`]]) {
      const r = await runBundle(install(prefix, ...form));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: the token is not accepted on the command line, where ps and your shell history show it: .*--token-file.*rotate it: `cortex node rekey <node>`/);
      expect(r.stderr).not.toContain(TOKEN);
    }
    expect(existsSync(prefix)).toBe(false);
  });

  it("refuses a token file group or others can read", async () => {
    const prefix = join(emptyDir(), "cortex");
    const file = join(emptyDir(), "token");
    writeFileSync(file, TOKEN, { mode: 0o644 });
    const r = await runBundle(install(prefix, "--token-file", file));
    expect(r).toMatchObject({ code: 1, stderr: `error: token file ${file}: mode 0644 lets group or others read it; run chmod 600 ${file}\n` });
    expect(existsSync(prefix)).toBe(false);
  });

  it("with no token and no terminal, says how to give one", async () => {
    const r = await runBundle(install(join(emptyDir(), "cortex")));
    expect(r).toMatchObject({ code: 1, stderr: "error: no token, and no terminal to ask for it on: pass --token-file <file> (mode 0600) or --token-stdin\n" });
  });

  it("takes the token from standard input with --token-stdin, into a 0600 file and nowhere else", async () => {
    const prefix = join(emptyDir(), "cortex");
    const r = await runBundle(install(prefix, "--token-stdin"), `${TOKEN}\n`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Installed the Cortex agent ${version} for node ${NODE} in ${prefix}`);
    expect(r.stdout).not.toContain(TOKEN);
    expect(readFileSync(join(prefix, "etc", "token"), "utf8")).toBe(`${TOKEN}\n`);
    expect(readFileSync(join(prefix, "etc", "config.json"), "utf8")).not.toContain(TOKEN);
    expect(readFileSync(join(prefix, "lib", "cortex.mjs"))).toEqual(readFileSync(bundle));
  });
});

describe("cortex agent install, from a checkout", () => {
  it("points at the install script: only the bundle the hub serves is installed", async () => {
    const r = await runCli(["agent", "install", "--no-service", "--token-file", "/nonexistent"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cortex agent install installs the bundle the hub serves: run the hub's install script/);
  });
});
