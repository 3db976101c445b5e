import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chunkKey } from "../../durable-objects/site-hub/roost-keys.ts";
import { ApiError } from "../../protocol/api.ts";
import { MissingChunksResponse, RoostDiffResponse, RoostListResponse, VersionDetail, VersionListResponse } from "../../protocol/roost-api.ts";
import { ROOST_CHUNK_BYTES } from "../../protocol/roost-manifest.ts";
import { api, freshSite } from "./support.ts";
import { bytesOf, fileOf, nodeGet, pushVersion, putChunk, roostNode, sha256Hex } from "./roost-support.ts";

async function missing(site: string, hashes: string[]): Promise<string[]> {
  const res = await api(`/api/sites/${site}/roost/chunks/missing`, { method: "POST", body: JSON.stringify({ hashes }) });
  expect(res.status).toBe(200);
  return MissingChunksResponse.parse(await res.json()).missing;
}

async function commit(site: string, roost: string, files: unknown[]): Promise<Response> {
  return api(`/api/sites/${site}/roosts/${roost}/versions`, { method: "POST", body: JSON.stringify({ files }) });
}

describe("roost chunks", () => {
  it("reports missing chunks, stores a verified upload once, and answers a repeat without storing again", async () => {
    const site = freshSite();
    const data = bytesOf(1000, 1);
    const hash = await sha256Hex(data);
    expect(await missing(site, [hash])).toEqual([hash]);

    const first = await putChunk(site, hash, data);
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ hash, size: 1000, stored: true });
    expect(await missing(site, [hash])).toEqual([]);
    const stored = await env.ROOST.get(chunkKey(site, hash));
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(data);

    const again = await putChunk(site, hash, data);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ hash, size: 1000, stored: false });
  });

  it("refuses a chunk whose bytes do not hash to the name it is sent under, and stores nothing", async () => {
    const site = freshSite();
    const good = bytesOf(5000, 2);
    const hash = await sha256Hex(good);
    const corrupted = good.slice();
    corrupted[1234]! ^= 0xff;
    const res = await putChunk(site, hash, corrupted);
    expect(res.status).toBe(422);
    expect(ApiError.parse(await res.json()).error.code).toBe("chunk_mismatch");
    expect(await missing(site, [hash])).toEqual([hash]);
    expect(await env.ROOST.head(chunkKey(site, hash))).toBeNull();
  });

  it("refuses chunks over 4 MiB, empty chunks and names that are not hashes", async () => {
    const site = freshSite();
    const big = bytesOf(ROOST_CHUNK_BYTES + 1, 3);
    const bigRes = await putChunk(site, await sha256Hex(big), big);
    expect(bigRes.status).toBe(413);
    const exact = bytesOf(ROOST_CHUNK_BYTES, 3);
    expect((await putChunk(site, await sha256Hex(exact), exact)).status).toBe(201);
    const empty = await putChunk(site, await sha256Hex(new Uint8Array(0)), new Uint8Array(0));
    expect(empty.status).toBe(400);
    expect((await putChunk(site, "..%2F..%2Fx", bytesOf(10, 1))).status).toBe(400);
    expect((await putChunk(site, "A".repeat(64), bytesOf(10, 1))).status).toBe(400);
  });

  it("keeps each site's chunks to itself: another site cannot learn that a chunk exists", async () => {
    const siteA = freshSite();
    const siteB = freshSite();
    const data = bytesOf(2048, 4);
    const hash = await sha256Hex(data);
    expect((await putChunk(siteA, hash, data)).status).toBe(201);
    expect(await missing(siteA, [hash])).toEqual([]);
    expect(await missing(siteB, [hash])).toEqual([hash]);
    // Site B's upload of the same bytes is stored again, under B's own prefix.
    expect((await putChunk(siteB, hash, data)).status).toBe(201);
    expect(await env.ROOST.head(chunkKey(siteB, hash))).not.toBeNull();
  });
});

describe("roost versions", () => {
  it("commits numbered, immutable versions with totals and what changed, and shows and diffs them", async () => {
    const site = freshSite();
    const a = await fileOf("app/a.txt", bytesOf(100, 10));
    const b = await fileOf("app/b.bin", bytesOf(ROOST_CHUNK_BYTES + 10, 11), 0o755);
    const v1 = await pushVersion(site, "web", [a, b, { entry: { type: "symlink", path: "app/latest", target: "a.txt" }, chunks: new Map() }], "first");
    expect(v1).toMatchObject({ roost: "web", version: 1, message: "first", files: 2, bytes: ROOST_CHUNK_BYTES + 110, chunks: 3, uniqueChunks: 3, newChunks: 3, added: 3, changed: 0, removed: 0, createdBy: "admin key" });

    const a2 = await fileOf("app/a.txt", bytesOf(120, 12));
    const c = await fileOf("app/c.txt", new Uint8Array(0));
    const v2 = await pushVersion(site, "web", [a2, b, c], "second");
    expect(v2).toMatchObject({ version: 2, newChunks: 1, newBytes: 120, added: 1, changed: 1, removed: 1 });

    const list = RoostListResponse.parse(await (await api(`/api/sites/${site}/roosts`)).json());
    expect(list.roosts).toMatchObject([{ name: "web", latestVersion: 2, versions: 2 }]);
    const versions = VersionListResponse.parse(await (await api(`/api/sites/${site}/roosts/web/versions`)).json());
    expect(versions.versions.map((v) => v.version)).toEqual([2, 1]);

    const raw = await (await api(`/api/sites/${site}/roosts/web/versions/1`)).text();
    const shown = VersionDetail.parse(JSON.parse(raw));
    expect(shown.files.map((f) => f.path)).toEqual(["app/a.txt", "app/b.bin", "app/latest"]);
    // Without chunk hashes: a small file's one hash is a hash of the file, which a reader could match guesses against.
    for (const f of [a, b]) for (const hash of f.chunks.keys()) expect(raw).not.toContain(hash);
    expect(shown.version.manifestSha256).toBe(v1.manifestSha256);

    const diff = RoostDiffResponse.parse(await (await api(`/api/sites/${site}/roosts/web/diff?from=1&to=2`)).json());
    expect(diff.added.map((d) => d.path)).toEqual(["app/c.txt"]);
    expect(diff.removed.map((d) => d.path)).toEqual(["app/latest"]);
    expect(diff.changed).toMatchObject([{ path: "app/a.txt", size: 120, before: { size: 100 } }]);

    expect((await api(`/api/sites/${site}/roosts/web/versions/9`)).status).toBe(404);
    expect((await api(`/api/sites/${site}/roosts/nope/versions`)).status).toBe(404);
  });

  it("refuses a commit naming chunks the site does not have", async () => {
    const site = freshSite();
    const f = await fileOf("x", bytesOf(10, 20));
    const res = await commit(site, "r", [f.entry]);
    expect(res.status).toBe(409);
    expect(ApiError.parse(await res.json()).error.code).toBe("chunks_missing");
    expect((await api(`/api/sites/${site}/roosts/r/versions`)).status).toBe(404);
  });

  it("refuses a chunk list that does not match the size", async () => {
    const site = freshSite();
    const f = await fileOf("x", bytesOf(10, 21));
    const lying = { ...f.entry, size: ROOST_CHUNK_BYTES + 1 };
    expect((await commit(site, "r", [lying])).status).toBe(400);
  });

  const TRICKS: [string, unknown[]][] = [
    ["an absolute path", [{ type: "dir", path: "/etc", mode: 0o755 }]],
    ["a '..' component", [{ type: "dir", path: "a/../../b", mode: 0o755 }]],
    ["a leading '..'", [{ type: "dir", path: "../outside", mode: 0o755 }]],
    ["a NUL byte", [{ type: "dir", path: "a\u0000b", mode: 0o755 }]],
    ["a backslash", [{ type: "dir", path: "a\\..\\..\\b", mode: 0o755 }]],
    ["an empty component", [{ type: "dir", path: "a//b", mode: 0o755 }]],
    ["a '.' component", [{ type: "dir", path: "./a", mode: 0o755 }]],
    ["a duplicate path", [{ type: "dir", path: "a", mode: 0o755 }, { type: "symlink", path: "a", target: "b" }]],
    ["an entry under a symlink", [{ type: "symlink", path: "a", target: "b" }, { type: "dir", path: "a/x", mode: 0o755 }]],
    ["an absolute symlink target", [{ type: "symlink", path: "a", target: "/etc/passwd" }]],
    ["a symlink climbing out", [{ type: "symlink", path: "d/a", target: "../../etc" }]],
    ["a symlink out through another symlink", [{ type: "symlink", path: "up", target: "." }, { type: "symlink", path: "x", target: "up/../y" }]],
    ["a symlink loop", [{ type: "symlink", path: "a", target: "b" }, { type: "symlink", path: "b", target: "a" }]],
    ["a set-user-id mode", [{ type: "dir", path: "a", mode: 0o4755 }]],
  ];

  it.each(TRICKS)("refuses a manifest with %s and creates no version", async (_what, files) => {
    const site = freshSite();
    const res = await commit(site, "tricks", files);
    expect(res.status).toBe(400);
    expect(ApiError.parse(await res.json()).error.issues?.length).toBeGreaterThan(0);
    expect((await api(`/api/sites/${site}/roosts/tricks/versions`)).status).toBe(404);
  });

  it("accepts symlinks that stay inside the version, through other symlinks too", async () => {
    const site = freshSite();
    const v = await pushVersion(site, "links", [
      { entry: { type: "dir", path: "lib/pkg/bin", mode: 0o755 }, chunks: new Map() },
      { entry: { type: "symlink", path: "bin/tool", target: "../lib/pkg/bin" }, chunks: new Map() },
      { entry: { type: "symlink", path: "lib/current", target: "pkg" }, chunks: new Map() },
      { entry: { type: "symlink", path: "deep", target: "lib/current/bin/../../pkg" }, chunks: new Map() },
    ]);
    expect(v.version).toBe(1);
  });
});

describe("roost node downloads", () => {
  it("refuses a node token that is wrong, and a node asking for something not deployed to it", async () => {
    const site = freshSite();
    const f = await fileOf("x", bytesOf(64, 30));
    await pushVersion(site, "app", [f]);
    const { token } = await roostNode(site, "n1");
    const [hash] = f.entry.type === "file" ? f.entry.chunks : [];
    expect((await nodeGet(site, `chunks/${hash}`, "cxn_n1_" + "0".repeat(64))).status).toBe(401);
    expect((await nodeGet(site, `chunks/${hash}`, "")).status).toBe(401);
    const chunk = await nodeGet(site, `chunks/${hash}`, token);
    expect(chunk.status).toBe(403);
    expect(ApiError.parse(await chunk.json()).error.code).toBe("not_deployed");
    expect((await nodeGet(site, "manifests/app/1", token)).status).toBe(403);
    // A user's API key is not a node token.
    expect((await api(`/api/sites/${site}/roost/node/chunks/${hash}`)).status).toBe(401);
  });
});
