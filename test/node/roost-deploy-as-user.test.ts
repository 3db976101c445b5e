import { chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { resolveActionUser } from "../../agent/privilege/action-user.ts";
import { deployVersion } from "../../agent/roost/deploy-version.ts";
import { PathPolicy } from "../../agent/sandbox/path-policy.ts";
import { IS_ROOT, NOT_ROOT_REASON, testRunAs } from "../support/action-user.ts";
import { cleanUp, directive, executor, FakeHub, isolateHome, run, sandboxDir, tempDir } from "./executor-harness.ts";
import { MemorySource, Scratch, writeFiles, type BuiltVersion } from "./roost-fixtures.ts";

/**
 * A roost deployment at the lower tiers, through a real agent (its executor and action worker) with the hub's
 * node routes served from memory: every file, folder and the `current` link are made by the action user through
 * descriptors, and whatever is planted in the target is refused, never followed. Deployments are allowed from tier
 * sudo up; at tier unprivileged they are refused outright.
 */

isolateHome();
const scratch = new Scratch();
const source = new MemorySource();
let server: Server;
let siteUrl = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    void (async () => {
      const manifest = /^\/api\/sites\/default\/roost\/node\/manifests\/([^/]+)\/(\d+)$/.exec(req.url ?? "");
      const chunk = /^\/api\/sites\/default\/roost\/node\/chunks\/([0-9a-f]{64})$/.exec(req.url ?? "");
      try {
        const body = manifest ? await source.manifest(manifest[1]!, Number(manifest[2])) : chunk ? await source.chunk(chunk[1]!) : null;
        if (!body) throw new Error("no such route");
        res.writeHead(200, { "content-length": body.byteLength }).end(body);
      } catch {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "not here" } }));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sites/default`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  scratch.cleanup();
});
afterEach(cleanUp);

/** The uid files made by actions at a lower tier belong to: the test's action user when it runs as root. */
const ACTION_USER = resolveActionUser({ tier: "unprivileged", runAs: testRunAs() });

/** A folder the test (possibly root) makes inside the sandbox, given to the action user as the agent would find it. */
function ownedDir(path: string): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, ACTION_USER.uid, ACTION_USER.gid);
  return path;
}

/** A link planted by the test, owned by the action user (as one made by an earlier directive would be). */
function plant(target: string, at: string): void {
  symlinkSync(target, at);
  lchownSync(at, ACTION_USER.uid, ACTION_USER.gid);
}

/** A folder of root's (when the test runs as root) with nothing in it, for links to point at. */
function rootFolder(): string {
  return tempDir("cortex-root-owned-");
}

let versionCounter = 0;

async function version(content: string): Promise<BuiltVersion> {
  const folder = scratch.dir("cortex-project-");
  writeFiles(folder, { "one.txt": content, "sub/two.txt": `${content} two`, "sub/deeper/three.txt": "3" });
  symlinkSync("sub/two.txt", join(folder, "two"));
  return source.push(folder, "app", ++versionCounter);
}

function deploy(tier: CapabilityTier, sandbox: string, built: BuiltVersion, path: string, extra: Record<string, unknown> = {}) {
  const agent = executor({ tier, sandboxRoot: sandbox, hub: { siteUrl, token: () => "node-token" } });
  const params = { deploymentId: "dep-1", roost: "app", version: built.manifest.version, manifestSha256: built.sha, path, ...extra };
  return run(agent, new FakeHub(), directive("roost.deploy", params), 30_000);
}

/** Every entry under `root` (links not followed) with its owner. */
function owners(root: string, rel = ""): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of readdirSync(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name;
    const info = lstatSync(join(root, path));
    out[path] = info.uid;
    if (info.isDirectory()) Object.assign(out, owners(root, path));
  }
  return out;
}

describe("tier unprivileged", () => {
  it("refuses every deployment, inside the sandbox or out, and makes nothing", async () => {
    const sandbox = sandboxDir();
    const outside = tempDir("cortex-outside-");
    for (const path of [join(sandbox, "app"), join(outside, "app")]) {
      const result = await deploy("unprivileged", sandbox, await version("u"), path);
      expect(result).toMatchObject({ success: false, errorCode: "tier_refused" });
    }
    expect(readdirSync(sandbox)).toEqual([]);
    expect(readdirSync(outside)).toEqual([]);
  });

  it("and its policy, should a deployment reach the file side, keeps it in the sandbox by what the kernel opened", async () => {
    const sandbox = sandboxDir();
    const outside = tempDir("cortex-outside-");
    plant(outside, join(sandbox, "elsewhere"));
    const policy = new PathPolicy({ tier: "unprivileged", sandboxRoot: sandbox, confineTo: null });
    const built = await version("v");
    const req = { deploymentId: "dep-1", roost: "app", version: built.manifest.version, manifestSha256: built.sha, keep: 3, afterTimeoutMs: 1000, timeoutMs: 60_000 };
    const deps = { source, progress: () => undefined, say: () => undefined, after: null, signal: new AbortController().signal };
    for (const path of [join(outside, "app"), join(sandbox, "elsewhere", "app"), join(sandbox, "elsewhere")]) {
      await expect(deployVersion({ ...req, path }, policy, deps)).rejects.toMatchObject({ code: "tier_refused" });
    }
    expect(readdirSync(outside)).toEqual([]);
  });
});

describe("tier sudo: where a deployment may go", () => {
  it("deploys into an allowed folder, and `current` leads to the version inside it", async () => {
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    const result = await deploy("sudo", sandbox, await version("a"), target);
    expect(result, result.error).toMatchObject({ success: true });
    expect(readlinkSync(join(target, "current"))).toBe(`versions/${versionCounter}`);
    expect(realpathSync(join(target, "current/one.txt"))).toBe(join(target, `versions/${versionCounter}/one.txt`));
  });

  it("keeps the chunks of a download that broke off, so the next attempt fetches only the rest", async () => {
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    const folder = scratch.dir("cortex-project-");
    writeFiles(folder, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`part-${i}.txt`, `part ${i} of the resumed version`])));
    const built = await source.push(folder, "app", ++versionCounter);
    source.requested.length = 0;
    source.failAfter = 2;
    try {
      expect(await deploy("sudo", sandbox, built, target)).toMatchObject({ success: false });
    } finally {
      source.failAfter = Number.POSITIVE_INFINITY;
    }
    const fetchedBefore = new Set(source.requested);
    expect(fetchedBefore.size).toBe(2);
    source.requested.length = 0;
    const result = await deploy("sudo", sandbox, built, target);
    expect(result, result.error).toMatchObject({ success: true, data: { downloadedChunks: 6 } });
    expect(source.requested.filter((hash) => fetchedBefore.has(hash))).toEqual([]);
    expect(readdirSync(join(target, "current")).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `part-${i}.txt`));
  });

  it("refuses /etc, named or reached through a link, and makes nothing there", async () => {
    const sandbox = sandboxDir();
    const before = readdirSync("/etc").sort();
    plant("/etc", join(sandbox, "etc-link"));
    for (const path of [`/etc/cortex-roost-test-${process.pid}`, join(sandbox, "etc-link", `cortex-roost-test-${process.pid}`), join(sandbox, "etc-link")]) {
      const result = await deploy("sudo", sandbox, await version("b"), path);
      expect(result, path).toMatchObject({ success: false, errorCode: "tier_refused" });
    }
    expect(readdirSync("/etc").sort()).toEqual(before);
  });

  it("refuses a target that is a dangling link, and creates nothing where it points", async () => {
    const sandbox = sandboxDir();
    const nowhere = `/etc/cortex-roost-test-${process.pid}`;
    plant(nowhere, join(sandbox, "app"));
    const result = await deploy("sudo", sandbox, await version("e"), join(sandbox, "app"));
    expect(result.success).toBe(false);
    expect(existsSync(nowhere)).toBe(false);
  });
});

describe("links planted inside the target are never followed", () => {
  /** A target inside a fresh sandbox, prepared by `prepare` before the deployment runs. */
  async function attack(prepare: (target: string) => void) {
    const sandbox = sandboxDir();
    const target = ownedDir(join(sandbox, "app"));
    prepare(target);
    return { target, result: await deploy("sudo", sandbox, await version("planted"), target) };
  }

  it("versions/ as a dangling link to /etc: refused, nothing made in /etc", async () => {
    const name = `/etc/cortex-roost-test-${process.pid}`;
    const { result } = await attack((target) => plant(name, join(target, "versions")));
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(result.error).toMatch(/symlink/);
    expect(existsSync(name)).toBe(false);
  });

  it("versions/ as a link to a folder of root's files: refused, nothing written or removed there", async () => {
    // A stand-in for /etc, never the real one: code that followed this link would empty the folder it leads to
    // (the version folders the state does not know are removed), as the code before this test did to /etc.
    const system = rootFolder();
    writeFileSync(join(system, "passwd"), "root:x:0:0::/root:/bin/sh\n");
    mkdirSync(join(system, "7"));
    const { result } = await attack((target) => plant(system, join(target, "versions")));
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(readdirSync(system).sort()).toEqual(["7", "passwd"]);
    expect(readdirSync(join(system, "7"))).toEqual([]);
  });

  it("versions/ as a link to a folder of root's files, on a root agent: refused just the same, nothing removed", async () => {
    // At tier root the deployment runs in the agent itself, as root: following this link would empty the folder.
    const system = rootFolder();
    writeFileSync(join(system, "passwd"), "root:x:0:0::/root:/bin/sh\n");
    mkdirSync(join(system, "7"));
    const target = join(rootFolder(), "app");
    mkdirSync(target);
    symlinkSync(system, join(target, "versions"));
    const result = await deploy("root", join(rootFolder(), "sandbox"), await version("planted"), target);
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(result.error).toMatch(/symlink/);
    expect(readdirSync(system).sort()).toEqual(["7", "passwd"]);
  });

  it(".roost as a link to a root-owned folder: refused, nothing written there", async () => {
    const owned = rootFolder();
    const { result } = await attack((target) => plant(owned, join(target, ".roost")));
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(readdirSync(owned)).toEqual([]);
  });

  it("current as a link to /etc or to a root-owned folder: refused and left as it was", async () => {
    for (const elsewhere of ["/etc", rootFolder()]) {
      const { target, result } = await attack((t) => plant(elsewhere, join(t, "current")));
      expect(result).toMatchObject({ success: false, errorCode: "conflict" });
      expect(readlinkSync(join(target, "current"))).toBe(elsewhere);
      expect(existsSync(join(target, "versions", String(versionCounter)))).toBe(false);
    }
  });

  it("the download cache swapped for a link to a root-owned folder: refused, nothing cached there", async () => {
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    expect(await deploy("sudo", sandbox, await version("first"), target)).toMatchObject({ success: true });
    const owned = rootFolder();
    rmSync(join(target, ".roost/cache"), { recursive: true });
    plant(owned, join(target, ".roost/cache"));
    const result = await deploy("sudo", sandbox, await version("second"), target);
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(readdirSync(owned)).toEqual([]);
    expect(readlinkSync(join(target, "current"))).toBe(`versions/${versionCounter - 1}`);
  });

  it("versions/ swapped for a link after a deployment: the next switch is refused, `current` stays where it was", async () => {
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    expect(await deploy("sudo", sandbox, await version("first"), target)).toMatchObject({ success: true });
    const before = readlinkSync(join(target, "current"));
    const owned = rootFolder();
    rmSync(join(target, "versions"), { recursive: true, force: true });
    plant(owned, join(target, "versions"));
    const result = await deploy("sudo", sandbox, await version("second"), target);
    expect(result).toMatchObject({ success: false, errorCode: "conflict" });
    expect(readdirSync(owned)).toEqual([]);
    expect(readlinkSync(join(target, "current"))).toBe(before);
  });

  it("a link planted where the new version goes is removed as a link, and what it pointed to is untouched", async () => {
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    expect(await deploy("sudo", sandbox, await version("first"), target)).toMatchObject({ success: true });
    const owned = rootFolder();
    writeFileSync(join(owned, "keep.txt"), "root's");
    const next = await version("second");
    plant(owned, join(target, "versions", String(next.manifest.version)));
    const result = await deploy("sudo", sandbox, next, target);
    expect(result, result.error).toMatchObject({ success: true });
    expect(readdirSync(owned)).toEqual(["keep.txt"]);
    expect(lstatSync(join(target, "versions", String(next.manifest.version))).isDirectory()).toBe(true);
  });
});

describe.skipIf(!IS_ROOT)(`the action user, not root, writes a deployment (${NOT_ROOT_REASON})`, () => {
  it("every file, folder and link of the deployment belongs to the action user", async () => {
    expect(ACTION_USER.uid).not.toBe(0);
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    const result = await deploy("sudo", sandbox, await version("owned"), target);
    expect(result, result.error).toMatchObject({ success: true });
    const found = owners(target);
    expect(Object.keys(found)).toEqual(expect.arrayContaining(["current", ".roost", ".roost/state.json", ".roost/cache", "versions", `versions/${versionCounter}/sub/deeper/three.txt`]));
    expect(Object.entries(found).filter(([, uid]) => uid !== ACTION_USER.uid)).toEqual([]);
    expect(lstatSync(target).uid).toBe(ACTION_USER.uid);
  });

  it("at tier sudo too, and the after command runs as the action user in the new version", async () => {
    const sandbox = sandboxDir();
    const target = join(sandbox, "app");
    const result = await deploy("sudo", sandbox, await version("sudo"), target, { after: "echo \"uid=$(id -u) in $(pwd -P)\"" });
    expect(result, result.error).toMatchObject({ success: true });
    expect(result.output).toContain(`uid=${ACTION_USER.uid} in ${join(target, "versions", String(versionCounter))}`);
    expect(Object.entries(owners(target)).filter(([, uid]) => uid !== ACTION_USER.uid)).toEqual([]);
  });

  it("into a folder only root may write, the kernel refuses the action user and nothing is made", async () => {
    const sandbox = sandboxDir();
    const owned = rootFolder();
    const result = await deploy("sudo", sandbox, await version("root-folder"), join(owned, "app"));
    expect(result).toMatchObject({ success: false });
    expect(result.error).toMatch(/permission|EACCES/i);
    expect(readdirSync(owned)).toEqual([]);
  });

  it("a root-owned folder planted as .roost is refused: the deployment's own records must be the action user's", async () => {
    const sandbox = sandboxDir();
    const target = ownedDir(join(sandbox, "app"));
    mkdirSync(join(target, ".roost"), { mode: 0o700 });
    const result = await deploy("sudo", sandbox, await version("root-meta"), target);
    expect(result.success).toBe(false);
    expect(readdirSync(join(target, ".roost"))).toEqual([]);
  });
});
