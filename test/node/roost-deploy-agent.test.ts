import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ActionError } from "../../agent/actions/action-error.ts";
import { activateVersion, deployVersion, type RoostDeps, type RoostRequest } from "../../agent/roost/deploy-version.ts";
import { PathPolicy } from "../../agent/sandbox/path-policy.ts";
import type { RoostProgress } from "../../protocol/roost-api.ts";
import { IS_ROOT } from "../support/action-user.ts";
import { buildVersion, bytesOf, MemorySource, MiB, Scratch, writeFiles, type BuiltVersion } from "./roost-fixtures.ts";

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

function request(built: BuiltVersion, path: string, extra: Partial<RoostRequest> = {}): RoostRequest {
  return {
    deploymentId: "r-test",
    roost: built.manifest.roost,
    version: built.manifest.version,
    manifestSha256: built.sha,
    path,
    keep: 3,
    afterTimeoutMs: 10_000,
    timeoutMs: 60_000,
    ...extra,
  };
}

/** Tier root, no confinement: these tests are about what a deployment does; the policy's part is in roost-deploy-as-user.test.ts. */
const POLICY = new PathPolicy({ tier: "root", sandboxRoot: "/tmp/cortex-sandbox", confineTo: null });
const deploy = (req: RoostRequest, d: RoostDeps) => deployVersion(req, POLICY, d);
const activate = (req: RoostRequest, d: RoostDeps) => activateVersion(req, POLICY, d);

function deps(source: MemorySource | null, progress: RoostProgress[] = [], after: RoostDeps["after"] = null): RoostDeps {
  return { source, progress: (p) => progress.push(p), say: () => undefined, after, signal: new AbortController().signal };
}

async function failure(promise: Promise<unknown>): Promise<ActionError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ActionError);
  return error as ActionError;
}

/** Every file under `root` with its bytes, symlink target or "dir", for comparing trees. */
function tree(root: string, rel = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(root, rel)).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const info = lstatSync(join(root, path));
    if (info.isSymbolicLink()) out[path] = `-> ${readlinkSync(join(root, path))}`;
    else if (info.isDirectory()) {
      out[path] = `dir ${(info.mode & 0o777).toString(8)}`;
      Object.assign(out, tree(root, path));
    } else out[path] = `${(info.mode & 0o777).toString(8)} ${readFileSync(join(root, path)).toString("base64").slice(0, 40)}:${info.size}`;
  }
  return out;
}

/** A project folder with files at the chunk boundaries, a symlink, an empty folder and an executable. */
function project(): string {
  const dir = scratch.dir("cortex-project-");
  writeFiles(dir, {
    "empty.txt": "",
    "one.txt": "1",
    "big/below.bin": bytesOf(4 * MiB - 1, 1),
    "big/exact.bin": bytesOf(4 * MiB, 2),
    "big/above.bin": bytesOf(4 * MiB + 1, 3),
    "bin/start": "#!/bin/sh\necho started\n",
  });
  chmodSync(join(dir, "bin/start"), 0o750);
  mkdirSync(join(dir, "logs"));
  symlinkSync("bin/start", join(dir, "start"));
  return dir;
}

describe("deploying a version on a machine", () => {
  it("assembles exactly the bytes of the version and switches `current` to it", async () => {
    const folder = project();
    const source = new MemorySource();
    const v1 = await source.push(folder, "app", 1);
    const target = join(scratch.dir(), "srv");
    const progress: RoostProgress[] = [];
    const outcome = await deploy(request(v1, target), deps(source, progress));

    expect(readlinkSync(join(target, "current"))).toBe("versions/1");
    expect(tree(join(target, "current"))).toEqual(tree(folder));
    expect(outcome).toMatchObject({ kind: "roost", version: 1, previousVersion: null, downloadedChunks: v1.manifest.totals.uniqueChunks, reusedChunks: 0 });
    expect(outcome.downloadedBytes).toBe(v1.manifest.totals.uniqueBytes);
    expect(progress.map((p) => p.phase).filter((p, i, all) => all.indexOf(p) === i)).toEqual(["manifest", "plan", "download", "assemble", "switch", "done"]);
    const download = progress.filter((p) => p.phase === "download").at(-1)!;
    expect(download.bytesDone).toBe(download.bytesTotal);
    // Nothing half-done is left: no staging folder, no temporary link, an empty cache.
    expect(readdirSync(join(target, ".roost")).filter((n) => n.startsWith("staging-"))).toEqual([]);
    expect(readdirSync(target).filter((n) => n.startsWith(".current-"))).toEqual([]);
    expect(readdirSync(join(target, ".roost/cache"))).toEqual([]);
  });

  it("downloads only the chunks of what changed, and keeps the earlier version for a rollback", async () => {
    const folder = project();
    const source = new MemorySource();
    const v1 = await source.push(folder, "app", 1);
    const target = join(scratch.dir(), "srv");
    await deploy(request(v1, target), deps(source));

    writeFiles(folder, { "big/exact.bin": bytesOf(4 * MiB, 99) });
    const v2 = await source.push(folder, "app", 2);
    source.requested.length = 0;
    const outcome = await deploy(request(v2, target), deps(source));
    expect(source.requested).toHaveLength(1);
    expect(outcome).toMatchObject({ downloadedChunks: 1, downloadedBytes: 4 * MiB, previousVersion: 1 });
    expect(readlinkSync(join(target, "current"))).toBe("versions/2");
    expect(tree(join(target, "current"))).toEqual(tree(folder));
    expect(existsSync(join(target, "versions/1/big/exact.bin"))).toBe(true);
  });

  it("keeps only `keep` earlier versions", async () => {
    const folder = project();
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    for (let v = 1; v <= 4; v++) {
      writeFiles(folder, { "one.txt": `version ${v}` });
      await deploy(request(await source.push(folder, "app", v), target, { keep: 1 }), deps(source));
    }
    expect(readdirSync(join(target, "versions")).sort()).toEqual(["3", "4"]);
    expect(readdirSync(join(target, ".roost/manifests")).sort()).toEqual(["3.json", "4.json"]);
  });

  it("rolls back to a kept version without any download, after checking it", async () => {
    const folder = project();
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    const v1 = await source.push(folder, "app", 1);
    await deploy(request(v1, target), deps(source));
    writeFiles(folder, { "one.txt": "two" });
    await deploy(request(await source.push(folder, "app", 2), target), deps(source));

    const outcome = await activate(request(v1, target), deps(null));
    expect(outcome).toMatchObject({ version: 1, previousVersion: 2, downloadedBytes: 0 });
    expect(readlinkSync(join(target, "current"))).toBe("versions/1");
    expect(readFileSync(join(target, "current/one.txt"), "utf8")).toBe("1");
  });

  it("refuses to roll back to a version that is not on the machine, or was changed there", async () => {
    const folder = project();
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    const v1 = await source.push(folder, "app", 1);
    await deploy(request(v1, target), deps(source));
    writeFiles(folder, { "one.txt": "two" });
    const v2 = await source.push(folder, "app", 2);
    await deploy(request(v2, target), deps(source));

    const absent = buildVersion("app", 7, v1.manifest.files);
    expect((await failure(activate(request(absent, target), deps(null)))).code).toBe("not_found");

    writeFileSync(join(target, "versions/1/one.txt"), "tampered");
    const changed = await failure(activate(request(v1, target), deps(null)));
    expect(changed.message).toMatch(/one\.txt/);
    expect(readlinkSync(join(target, "current"))).toBe("versions/2");
  });

  it("refuses a chunk whose bytes do not match its hash and leaves the current version alone", async () => {
    const folder = project();
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    const v1 = await source.push(folder, "app", 1);
    await deploy(request(v1, target), deps(source));
    writeFiles(folder, { "one.txt": "changed" });
    const v2 = await source.push(folder, "app", 2);
    const changed = v2.manifest.files.find((f) => f.path === "one.txt")!;
    source.corrupt.add(changed.type === "file" ? changed.chunks[0]! : "");
    const error = await failure(deploy(request(v2, target), deps(source)));
    expect(error.message).toMatch(/other bytes than its hash names/);
    expect(readlinkSync(join(target, "current"))).toBe("versions/1");
    expect(readdirSync(join(target, "versions"))).toEqual(["1"]);
    expect(readdirSync(join(target, ".roost/cache"))).toEqual([]);
  });

  it("refuses a manifest other than the one the hub stored", async () => {
    const source = new MemorySource();
    const v1 = await source.push(project(), "app", 1);
    const target = join(scratch.dir(), "srv");
    const error = await failure(deploy({ ...request(v1, target), manifestSha256: "0".repeat(64) }, deps(source)));
    expect(error.message).toMatch(/not the one the hub stored/);
    expect(existsSync(join(target, "current"))).toBe(false);
  });

  it("resumes an interrupted download: chunks fetched before the break are not fetched again", async () => {
    const folder = project();
    const source = new MemorySource();
    const v1 = await source.push(folder, "app", 1);
    const target = join(scratch.dir(), "srv");
    source.failAfter = 2;
    await failure(deploy(request(v1, target), deps(source))).catch(() => undefined);
    expect(existsSync(join(target, "current"))).toBe(false);
    const fetchedBefore = new Set(source.requested);
    expect(fetchedBefore.size).toBeGreaterThan(0);
    source.failAfter = Number.POSITIVE_INFINITY;
    source.requested.length = 0;
    await deploy(request(v1, target), deps(source));
    expect(source.requested.filter((h) => fetchedBefore.has(h))).toEqual([]);
    expect(source.requested.length + fetchedBefore.size).toBe(v1.manifest.totals.uniqueChunks);
    expect(tree(join(target, "current"))).toEqual(tree(folder));
  });

  it("does not trust a kept file changed on the machine: that chunk is downloaded instead", async () => {
    const folder = project();
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    await deploy(request(await source.push(folder, "app", 1), target), deps(source));
    writeFileSync(join(target, "versions/1/big/below.bin"), bytesOf(4 * MiB - 1, 50));
    writeFiles(folder, { "one.txt": "v2" });
    const v2 = await source.push(folder, "app", 2);
    source.requested.length = 0;
    await deploy(request(v2, target), deps(source));
    expect(source.requested).toHaveLength(2);
    expect(tree(join(target, "current"))).toEqual(tree(folder));
  });

  it("runs the after command once the new version is current, and reports its failure", async () => {
    const source = new MemorySource();
    const v1 = await source.push(project(), "app", 1);
    const target = join(scratch.dir(), "srv");
    const seen: string[] = [];
    await deploy(request(v1, target), deps(source, [], async () => void seen.push(readlinkSync(join(target, "current")))));
    expect(seen).toEqual(["versions/1"]);
    const error = await failure(
      deploy(request(v1, target), deps(source, [], async () => {
        throw new ActionError("exec_failed", "the after command failed: exit code 3");
      })),
    );
    expect(error.message).toMatch(/exit code 3/);
  });
});

describe("what a deployment refuses to touch", () => {
  const ATTACKS: [string, unknown[]][] = [
    ["a path climbing out", [{ type: "dir", path: "../escaped", mode: 0o755 }]],
    ["an absolute path", [{ type: "dir", path: "/tmp/escaped", mode: 0o755 }]],
    ["a symlink out, then a file through it", [{ type: "symlink", path: "out", target: "../../" }, { type: "dir", path: "out/escaped", mode: 0o755 }]],
    ["a duplicate", [{ type: "dir", path: "a", mode: 0o755 }, { type: "dir", path: "a", mode: 0o700 }]],
  ];

  it.each(ATTACKS)("refuses a manifest with %s, even one the hub would serve, and writes nothing", async (_what, files) => {
    const source = new MemorySource();
    const built = source.add(buildVersion("app", 1, files as never));
    const target = join(scratch.dir(), "srv");
    const error = await failure(deploy(request(built, target), deps(source)));
    expect(error.message).toMatch(/not valid/);
    expect(existsSync(join(target, "current"))).toBe(false);
    expect(readdirSync(join(target, "versions"))).toEqual([]);
    expect(existsSync(join(target, "..", "escaped"))).toBe(false);
  });

  it("refuses to replace a `current` that is a real folder", async () => {
    const source = new MemorySource();
    const v1 = await source.push(project(), "app", 1);
    const target = join(scratch.dir(), "srv");
    mkdirSync(join(target, "current"), { recursive: true });
    writeFileSync(join(target, "current/precious"), "data");
    const error = await failure(deploy(request(v1, target), deps(source)));
    expect(error.code).toBe("conflict");
    expect(readFileSync(join(target, "current/precious"), "utf8")).toBe("data");
  });

  it("refuses a folder that another user could rename things in: it, `versions`, or a folder above it", async () => {
    const source = new MemorySource();
    const v1 = await source.push(project(), "app", 1);
    const cases: [string, (target: string) => void][] = [
      ["writable by others", (target) => chmodSync(target, 0o777)],
      ["versions writable by others", (target) => (mkdirSync(join(target, "versions")), chmodSync(join(target, "versions"), 0o777))],
      ["a folder above writable by others", (target) => chmodSync(join(target, ".."), 0o777)],
      ...(IS_ROOT ? ([["another user's", (target: string) => chownSync(target, 65534, 65534)]] as [string, (target: string) => void][]) : []),
    ];
    for (const [what, make] of cases) {
      const target = join(scratch.dir(), "srv");
      mkdirSync(target);
      make(target);
      const error = await failure(deploy(request(v1, target, { after: "./post-deploy.sh" }), deps(source, [], async () => void 0)));
      expect(error.code, what).toBe("conflict");
      expect(existsSync(join(target, "current")), what).toBe(false);
    }
    // A sticky folder above (like /tmp), where others cannot rename what is not theirs, is fine.
    const target = join(scratch.dir(), "srv");
    chmodSync(join(target, ".."), 0o1777);
    await deploy(request(v1, target), deps(source));
    expect(readlinkSync(join(target, "current"))).toBe("versions/1");
  });

  it("leaves other people's files in the deployment's folder alone, even ones named like its leftovers", async () => {
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    mkdirSync(join(target, ".uploads.tmp"), { recursive: true });
    writeFileSync(join(target, ".uploads.tmp/customer-file.pdf"), "pdf");
    writeFileSync(join(target, ".current-backup-2026-11-01"), "backup");
    symlinkSync("versions/9", join(target, ".current-0123456789ab"));
    await deploy(request(await source.push(project(), "app", 1), target), deps(source));
    expect(readFileSync(join(target, ".uploads.tmp/customer-file.pdf"), "utf8")).toBe("pdf");
    expect(readFileSync(join(target, ".current-backup-2026-11-01"), "utf8")).toBe("backup");
    // What roost itself leaves when interrupted is still removed.
    expect(readdirSync(target)).not.toContain(".current-0123456789ab");
  });

  it("refuses to deploy another roost into a folder that holds one", async () => {
    const source = new MemorySource();
    const target = join(scratch.dir(), "srv");
    await deploy(request(await source.push(project(), "app", 1), target), deps(source));
    const other = await source.push(project(), "other", 1);
    expect((await failure(deploy(request(other, target), deps(source)))).code).toBe("conflict");
    expect(readlinkSync(join(target, "current"))).toBe("versions/1");
  });

  it("gives the files their modes but never set-user-id bits, and the staging folder is private while filled", async () => {
    const folder = project();
    chmodSync(join(folder, "bin/start"), 0o4755);
    const source = new MemorySource();
    const v1 = await source.push(folder, "app", 1);
    expect(v1.manifest.files.find((f) => f.path === "bin/start")).toMatchObject({ mode: 0o755 });
    const target = join(scratch.dir(), "srv");
    await deploy(request(v1, target), deps(source));
    expect(statSync(join(target, "current/bin/start")).mode & 0o7777).toBe(0o755);
    expect(statSync(join(target, ".roost")).mode & 0o777).toBe(0o700);
  });
});
