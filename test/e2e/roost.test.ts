import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeploymentView, VersionDetail } from "../../protocol/roost-api.ts";
import { RoostManifest } from "../../protocol/roost-manifest.ts";
import { Fleet } from "../support/fleet.ts";

/**
 * Roost end to end: a real hub under wrangler dev (R2 kept locally), the real `cortex` CLI pushing and deploying,
 * and three real agents putting versions in place, each in its own folder (`{node}` in the path) since they share
 * this machine.
 */
let fleet: Fleet;
let project: string;
let base: string;
const tokens = new Map<string, string>();
const NODES = ["r1", "r2", "r3"];

function folderOf(node: string): string {
  return join(base, node, "app");
}

function write(path: string, content: string | Buffer): void {
  mkdirSync(dirname(join(project, path)), { recursive: true });
  writeFileSync(join(project, path), content);
}

function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

/** Every entry under a folder: file contents by hash, symlink targets, folders. */
function tree(root: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const info = lstatSync(join(root, path));
    if (info.isSymbolicLink()) out[path] = `-> ${readlinkSync(join(root, path))}`;
    else if (info.isDirectory()) Object.assign(out, { [path]: "dir" }, tree(root, path));
    else out[path] = `${(info.mode & 0o777).toString(8)} ${createHash("sha256").update(readFileSync(join(root, path))).digest("hex")}`;
  }
  return out;
}

async function push(message: string): Promise<{ version: { version: number }; uploadedChunks: number; uploadedBytes: number }> {
  return (await fleet.cortex.json(["roost", "push", project, "--roost", "site", "-m", message])) as never;
}

async function deployment(id: string): Promise<DeploymentView> {
  return fleet.api.call("GET", `/roost/deployments/${id}`, DeploymentView);
}

beforeAll(async () => {
  fleet = await Fleet.start();
  project = fleet.dirs.make("cortex-roost-project-");
  base = fleet.dirs.make("cortex-roost-machines-");
  write("index.html", "<h1>v1</h1>\n");
  write("assets/app.bin", bytes(5 * 1024 * 1024 + 17, 1));
  write("bin/start", "#!/bin/sh\necho start\n");
  chmodSync(join(project, "bin/start"), 0o755);
  symlinkSync("bin/start", join(project, "start"));
  write(".roostignore", "*.log\n");
  write("debug.log", "never shipped");
  for (const node of NODES) tokens.set(node, (await fleet.connectedNode(node, "root")).creds.token);
});

afterAll(async () => {
  await fleet?.close();
});

describe("roost with three agents", () => {
  it("pushes a folder, and a second push of it uploads nothing", async () => {
    const first = await push("first");
    expect(first.version.version).toBe(1);
    expect(first.uploadedChunks).toBe(5);
    const again = await push("same again");
    expect(again).toMatchObject({ version: { version: 2 }, uploadedChunks: 0, uploadedBytes: 0 });
    const shown = await fleet.api.call("GET", "/roosts/site/versions/1", VersionDetail);
    expect(shown.files.map((f) => f.path)).not.toContain("debug.log");
  });

  it("deploys to every machine, canary first, with exactly the bytes of the version", async () => {
    const out = await fleet.cortex.run(["roost", "deploy", "site@1", "--nodes", NODES.join(","), "--path", join(base, "{node}", "app")], 90_000);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/r1: running \(canary\)/);
    expect(out.stdout).toMatch(/completed: 3 done, 0 failed/);
    const expected = tree(project);
    delete expected["debug.log"];
    for (const node of NODES) {
      expect(readlinkSync(join(folderOf(node), "current"))).toBe("versions/1");
      expect(tree(join(folderOf(node), "current"))).toEqual(expected);
    }
    const history = await fleet.api.directives({ action: "roost.deploy" });
    expect(history.directives.filter((d) => d.status === "done")).toHaveLength(3);
    const log = await fleet.api.activity({ kind: "deployment" });
    expect(log.entries.some((e) => /canary passed/.test(e.message))).toBe(true);
  });

  it("sends only the changed chunk to each machine for a new version", async () => {
    const changed = bytes(5 * 1024 * 1024 + 17, 1);
    changed[10]! ^= 0xff;
    write("assets/app.bin", changed);
    const pushed = await push("one chunk changed");
    expect(pushed).toMatchObject({ version: { version: 3 }, uploadedChunks: 1, uploadedBytes: 4 * 1024 * 1024 });
    const out = await fleet.cortex.run(["roost", "deploy", "site@3", "--nodes", NODES.join(","), "--path", join(base, "{node}", "app"), "--json"], 90_000);
    expect(out.code, out.stderr).toBe(0);
    const view = DeploymentView.parse(JSON.parse(out.stdout));
    for (const target of view.targets!) {
      const directive = await fleet.api.directive(target.directiveId!);
      expect(directive.data).toMatchObject({ kind: "roost", version: 3, downloadedChunks: 1, downloadedBytes: 4 * 1024 * 1024, previousVersion: 1 });
    }
  });

  it("stops after a failing canary: the other machines keep their version", async () => {
    write("index.html", "<h1>v4</h1>\n");
    const pushed = await push("breaks on r2");
    const failOnR2 = 'case "$PWD" in */r2/*) echo "r2 refuses" >&2; exit 3;; esac';
    const out = await fleet.cortex.run(
      ["roost", "deploy", `site@${pushed.version.version}`, "--nodes", "r2,r1,r3", "--path", join(base, "{node}", "app"), "--after", failOnR2],
      90_000,
    );
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/r2: failed: .*after command failed/);
    expect(out.stdout).toMatch(/aborted: 0 done, 1 failed, 0 running, 2 skipped of 3/);
    expect(readlinkSync(join(folderOf("r1"), "current"))).toBe("versions/3");
    expect(readlinkSync(join(folderOf("r3"), "current"))).toBe("versions/3");
  });

  it("holds a canary that did not pass, and sends the rest when a person promotes it", async () => {
    const version = 4;
    const failOnR2 = 'case "$PWD" in */r2/*) exit 3;; esac';
    const held = await fleet.cortex.run(
      ["roost", "deploy", `site@${version}`, "--nodes", "r2,r1,r3", "--path", join(base, "{node}", "app"), "--canary", "50%", "--abort-above", "100%", "--after", failOnR2],
      90_000,
    );
    expect(held.code, held.stderr).toBe(2);
    expect(held.stderr).toMatch(/held for a decision: cortex roost promote (r-[0-9a-f-]+)/);
    const id = /cortex roost promote (r-[0-9a-f-]+)/.exec(held.stderr)![1]!;
    expect(existsSync(join(folderOf("r3"), "versions", String(version)))).toBe(false);

    const promoted = await fleet.cortex.run(["roost", "promote", id]);
    expect(promoted.code, promoted.stderr).toBe(0);
    const watched = await fleet.cortex.run(["roost", "watch", id], 90_000);
    expect(watched.stdout).toMatch(/completed: 2 done, 1 failed/);
    expect(readlinkSync(join(folderOf("r3"), "current"))).toBe(`versions/${version}`);
    expect((await deployment(id)).counts).toMatchObject({ done: 2, failed: 1 });
  });

  it("rolls every machine back to a version they keep, without downloading anything", async () => {
    const out = await fleet.cortex.run(["roost", "rollback", "site", "--to", "3", "--nodes", NODES.join(","), "--path", join(base, "{node}", "app"), "--json"], 90_000);
    expect(out.code, out.stderr).toBe(0);
    const view = DeploymentView.parse(JSON.parse(out.stdout));
    expect(view).toMatchObject({ kind: "rollback", state: "completed", counts: { done: 3 } });
    for (const target of view.targets!) {
      const directive = await fleet.api.directive(target.directiveId!);
      expect(directive).toMatchObject({ action: "roost.activate", data: { version: 3, downloadedBytes: 0, downloadedChunks: 0 } });
    }
    for (const node of NODES) expect(readlinkSync(join(folderOf(node), "current"))).toBe("versions/3");
  });

  it("answers 403 to a node asking for a chunk of a roost not deployed to it", async () => {
    const other = fleet.dirs.make("cortex-roost-other-");
    writeFileSync(join(other, "secret.txt"), "another roost's content");
    const pushed = (await fleet.cortex.json(["roost", "push", other, "--roost", "other"])) as { version: { version: number } };
    // A file under one chunk's size is one chunk: its hash is the file's.
    const hash = createHash("sha256").update("another roost's content").digest("hex");
    expect(pushed.version.version).toBe(1);
    const asNode = (path: string, node: string) =>
      fetch(`${fleet.hub.url}/api/sites/default/roost/node/${path}`, { headers: { Authorization: `Bearer ${tokens.get(node)}` } });
    const refused = await asNode(`chunks/${hash}`, "r1");
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("not_deployed");
    expect((await asNode("manifests/other/1", "r1")).status).toBe(403);
    // A chunk of a version that was deployed to r1 is served to r1.
    const ownManifest = RoostManifest.parse(await (await asNode("manifests/site/1", "r1")).json());
    const own = ownManifest.files.find((f) => f.path === "index.html");
    expect((await asNode(`chunks/${own?.type === "file" ? own.chunks[0] : ""}`, "r1")).status).toBe(200);
    // People read a version's files without their chunk hashes.
    const listed = await fleet.api.raw("GET", "/api/sites/default/roosts/site/versions/1");
    expect(listed.status).toBe(200);
    expect(listed.text).not.toContain(own?.type === "file" ? own.chunks[0]! : "no chunk");
    expect(VersionDetail.parse(listed.json).files.find((f) => f.path === "index.html")).toMatchObject({ type: "file", size: own?.type === "file" ? own.size : -1 });
  });
});
