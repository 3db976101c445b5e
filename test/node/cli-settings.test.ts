import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nodeView, sendJson, startFakeHub, type FakeHub } from "./cli-fake-hub.ts";
import { emptyDir, runCli } from "./cli-run.ts";

let hub: FakeHub;
beforeAll(async () => {
  hub = await startFakeHub({
    "GET /api/sites/flag-site/nodes": (_req, res) => sendJson(res, 200, { nodes: [nodeView()] }),
    "GET /api/sites/env-site/nodes": (_req, res) => sendJson(res, 200, { nodes: [nodeView()] }),
    "GET /api/sites/file-site/nodes": (_req, res) => sendJson(res, 200, { nodes: [nodeView()] }),
    "GET /api/sites/default/nodes": (_req, res) => sendJson(res, 200, { nodes: [nodeView()] }),
  });
});
afterAll(() => hub.close());

/** The key and site of the last request the hub saw. */
function lastSeen(): { key: string | undefined; site: string } {
  const req = hub.requests.at(-1)!;
  return { key: req.headers.authorization?.replace(/^Bearer /, ""), site: req.path.split("/")[3]! };
}

function configFile(contents: unknown): string {
  const dir = emptyDir();
  const path = join(dir, "config.json");
  writeFileSync(path, typeof contents === "string" ? contents : JSON.stringify(contents));
  return path;
}

function devVarsDir(key: string): string {
  const dir = emptyDir();
  writeFileSync(join(dir, ".dev.vars"), `# written by npm start\nOTHER=1\nCORTEX_ADMIN_KEY="${key}"\n`);
  return dir;
}

describe("connection settings", () => {
  it("a flag beats the environment, which beats the config file, which beats .dev.vars", async () => {
    const dead = "http://127.0.0.1:9";
    const configDeadHub = configFile({ hub: dead, site: "file-site", apiKey: "file-key" });
    const configLiveHub = configFile({ hub: hub.url, site: "file-site", apiKey: "file-key" });
    const cwd = devVarsDir("devvars-key");
    const env = { CORTEX_HUB: dead, CORTEX_SITE: "env-site", CORTEX_API_KEY: "env-key", CORTEX_CONFIG: configDeadHub };

    const flags = await runCli(["--hub", hub.url, "--site", "flag-site", "--api-key", "flag-key", "node", "list"], { env, cwd });
    expect(flags.code).toBe(0);
    expect(lastSeen()).toEqual({ key: "flag-key", site: "flag-site" });

    expect((await runCli(["node", "list"], { env: { ...env, CORTEX_HUB: hub.url }, cwd })).code).toBe(0);
    expect(lastSeen()).toEqual({ key: "env-key", site: "env-site" });

    expect((await runCli(["node", "list"], { env: { CORTEX_CONFIG: configLiveHub }, cwd })).code).toBe(0);
    expect(lastSeen()).toEqual({ key: "file-key", site: "file-site" });

    expect((await runCli(["node", "list"], { env: { CORTEX_HUB: hub.url }, cwd })).code).toBe(0);
    expect(lastSeen()).toEqual({ key: "devvars-key", site: "default" });
  });

  it("global options work after the subcommand too", async () => {
    const r = await runCli(["node", "list", "--hub", hub.url, "--api-key", "late-key", "--site", "flag-site"]);
    expect(r.code).toBe(0);
    expect(lastSeen()).toEqual({ key: "late-key", site: "flag-site" });
  });

  it("--config beats $CORTEX_CONFIG, and the default file is read from ~/.config/cortex/config.json", async () => {
    const named = configFile({ hub: hub.url, site: "flag-site", apiKey: "named-key" });
    const fromEnv = configFile({ hub: hub.url, site: "env-site", apiKey: "env-file-key" });
    await runCli(["--config", named, "node", "list"], { env: { CORTEX_CONFIG: fromEnv } });
    expect(lastSeen()).toEqual({ key: "named-key", site: "flag-site" });

    const home = emptyDir();
    mkdirSync(join(home, ".config", "cortex"), { recursive: true });
    writeFileSync(join(home, ".config", "cortex", "config.json"), JSON.stringify({ hub: hub.url, site: "file-site", apiKey: "home-key" }));
    expect((await runCli(["node", "list"], { home })).code).toBe(0);
    expect(lastSeen()).toEqual({ key: "home-key", site: "file-site" });
  });

  it(".dev.vars is not read for a hub that is not on loopback", async () => {
    const r = await runCli(["--hub", "https://hub.example.com", "node", "list"], { cwd: devVarsDir("devvars-key") });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: no API key: pass --api-key, set CORTEX_API_KEY or put apiKey in the config file\n");
  });

  it("an empty environment variable counts as unset", async () => {
    const config = configFile({ hub: hub.url, apiKey: "file-key" });
    await runCli(["node", "list"], { env: { CORTEX_CONFIG: config, CORTEX_API_KEY: "", CORTEX_SITE: "" } });
    expect(lastSeen()).toEqual({ key: "file-key", site: "default" });
  });

  it("a config file with a misspelt key, a bad value or broken JSON is refused with the file and field named", async () => {
    const typo = configFile({ hub: hub.url, apikey: "x" });
    const r1 = await runCli(["--config", typo, "node", "list"]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toBe(`error: config file ${typo}: Unrecognized key: "apikey"\n`);

    const badTier = configFile({ connect: { tier: "admin" } });
    const r2 = await runCli(["--config", badTier, "node", "list"]);
    expect(r2.stderr).toMatch(new RegExp(`^error: config file ${badTier}: connect\\.tier: `));

    const broken = configFile("{");
    const r3 = await runCli(["--config", broken, "node", "list"]);
    expect(r3.stderr).toMatch(/^error: config file .* is not valid JSON/);
  });

  it("a config file named explicitly must exist; the default one may be missing", async () => {
    const r = await runCli(["--config", "/nonexistent/cortex.json", "node", "list"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot read config file \/nonexistent\/cortex\.json/);
  });

  it("an invalid hub URL or site id is refused before any request", async () => {
    const before = hub.requests.length;
    const r1 = await runCli(["--hub", "ftp://x", "--api-key", "k", "node", "list"]);
    expect(r1.stderr).toBe('error: invalid hub URL "ftp://x": scheme must be http or https\n');
    const r2 = await runCli(["--hub", hub.url, "--api-key", "k", "--site", "Not A Site", "node", "list"]);
    expect(r2.stderr).toMatch(/^error: invalid site "Not A Site": site id must be/);
    expect(hub.requests.length).toBe(before);
  });

  it("--help documents the precedence and the .dev.vars convenience", async () => {
    const r = await runCli(["node", "list", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/CORTEX_HUB, CORTEX_SITE,\s+CORTEX_API_KEY/);
    expect(r.stdout).toMatch(/CORTEX_ADMIN_KEY is read from\s+\.\/\.dev\.vars/);
  });
});
