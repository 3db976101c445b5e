import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiError, nodeView, sendJson, startFakeHub, type FakeHub } from "./cli-fake-hub.ts";
import { emptyDir, REPO, runCli } from "./cli-run.ts";

const GOOD_KEY = `cxk_${"ab".repeat(32)}`;
const ME = {
  user: { id: "u-1", email: "ada@example.com", name: "Ada", superadmin: false, createdAt: 1 },
  memberships: [{ site: "lab", siteName: "Lab", role: "admin" }],
  credential: { kind: "api_key", scope: "admin", keyName: "laptop" },
};

let hub: FakeHub;
beforeAll(async () => {
  hub = await startFakeHub({
    "GET /api/auth/me": (req, res) =>
      req.headers.authorization === `Bearer ${GOOD_KEY}` ? sendJson(res, 200, ME) : apiError(res, 401, "invalid_api_key", "invalid API key"),
    "GET /api/sites/lab/nodes": (_req, res) => sendJson(res, 200, { nodes: [nodeView()] }),
  });
});
afterAll(() => hub.close());

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("cortex login", () => {
  it("checks the key against the hub, then saves hub, site and key readable by the owner only, keeping the rest", async () => {
    const dir = emptyDir();
    const path = join(dir, "config.json");
    writeFileSync(path, JSON.stringify({ site: "old", connect: { tier: "sudo" } }), { mode: 0o644 });
    const result = await runCli(["login", "--hub", hub.url, "--site", "lab", "--api-key", GOOD_KEY, "--config", path]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toBe(`Signed in to ${hub.url} as ada@example.com with the admin API key "laptop".\nSaved to ${path} (readable by you only).\n`);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ site: "lab", connect: { tier: "sudo" }, hub: hub.url, apiKey: GOOD_KEY });
    expect(mode(path)).toBe(0o600);
  });

  it("writes the default config file in a private folder, and later commands use the saved key", async () => {
    const home = emptyDir();
    expect((await runCli(["login", "--hub", hub.url, "--site", "lab", "--api-key", GOOD_KEY], { home })).code).toBe(0);
    const path = join(home, ".config", "cortex", "config.json");
    expect(mode(path)).toBe(0o600);
    expect(mode(join(home, ".config", "cortex"))).toBe(0o700);
    const list = await runCli(["node", "list"], { home });
    expect(list.code).toBe(0);
    expect(hub.requests.at(-1)).toMatchObject({ path: "/api/sites/lab/nodes", headers: { authorization: `Bearer ${GOOD_KEY}` } });
  });

  it("saves nothing when the hub refuses the key, and never prints the key", async () => {
    const home = emptyDir();
    const bad = `cxk_${"cd".repeat(32)}`;
    const result = await runCli(["login", "--hub", hub.url, "--api-key", bad], { home });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("error: invalid API key (401); check --api-key, CORTEX_API_KEY or the config file\n");
    expect(result.stdout + result.stderr).not.toContain(bad);
    expect(existsSync(join(home, ".config", "cortex", "config.json"))).toBe(false);
  });

  it("refuses a site the key cannot reach, and a malformed site or hub, saving nothing", async () => {
    const home = emptyDir();
    const other = await runCli(["login", "--hub", hub.url, "--site", "elsewhere", "--api-key", GOOD_KEY], { home });
    expect(other).toMatchObject({ code: 1, stderr: "error: this key has no access to site elsewhere (its sites: lab); nothing was saved\n" });
    expect((await runCli(["login", "--hub", hub.url, "--site", "Bad_Site", "--api-key", GOOD_KEY], { home })).code).toBe(1);
    expect((await runCli(["login", "--hub", "ftp://hub", "--api-key", GOOD_KEY], { home })).stderr).toContain("scheme must be http or https");
    expect(existsSync(join(home, ".config", "cortex", "config.json"))).toBe(false);
  });

  it("leaves a config file it cannot understand alone", async () => {
    const dir = emptyDir();
    const path = join(dir, "config.json");
    writeFileSync(path, "{ not json");
    const result = await runCli(["login", "--hub", hub.url, "--api-key", GOOD_KEY, "--config", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("is not valid JSON, so it was left alone");
    expect(readFileSync(path, "utf8")).toBe("{ not json");
  });

  it("reads the key from standard input when it is not a terminal", async () => {
    const home = emptyDir();
    const child = spawn(process.execPath, [join(REPO, "bin", "cortex.mjs"), "login", "--hub", hub.url], {
      cwd: emptyDir(),
      env: { PATH: process.env.PATH ?? "", HOME: home },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.end(`${GOOD_KEY}\n`);
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stdout).toContain("Signed in to");
    expect(JSON.parse(readFileSync(join(home, ".config", "cortex", "config.json"), "utf8")).apiKey).toBe(GOOD_KEY);
  });
});

describe("cortex logout", () => {
  it("removes the saved key and keeps the hub, the site and the rest", async () => {
    const dir = emptyDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, "config.json");
    writeFileSync(path, JSON.stringify({ hub: hub.url, site: "lab", apiKey: GOOD_KEY, connect: { tier: "root" } }));
    const result = await runCli(["logout", "--config", path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Removed the API key from ${path}`);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ hub: hub.url, site: "lab", connect: { tier: "root" } });
    expect(mode(path)).toBe(0o600);
    expect((await runCli(["logout", "--config", path])).stdout).toBe(`No API key is saved in ${path}.\n`);
  });
});
