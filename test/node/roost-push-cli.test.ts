import { createHash } from "node:crypto";
import { symlinkSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { CommitRequest, type VersionView } from "../../protocol/roost-api.ts";
import { chunkSizes, totalsOf, type ManifestEntry } from "../../protocol/roost-manifest.ts";
import { runCli } from "./cli-run.ts";
import { bytesOf, MiB, Scratch, writeFiles } from "./roost-fixtures.ts";

const scratch = new Scratch();
afterAll(() => scratch.cleanup());

/**
 * A hub stand-in for the push side of roost, as strict as the real one where it matters: an upload is stored only
 * if its bytes hash to its name, a commit only if every chunk is there. It can break the connection after a given
 * number of uploads, as a network would.
 */
class RoostHub {
  readonly chunks = new Map<string, Buffer>();
  readonly uploads: string[] = [];
  readonly commits: { roost: string; files: ManifestEntry[] }[] = [];
  dropAfter = Number.POSITIVE_INFINITY;
  url = "";
  private readonly server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const part of req) parts.push(part as Buffer);
    const body = Buffer.concat(parts);
    const path = new URL(req.url!, this.url).pathname;
    const send = (status: number, value: unknown): void => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
    if (req.method === "POST" && path === "/api/sites/default/roost/chunks/missing") {
      const { hashes } = JSON.parse(body.toString()) as { hashes: string[] };
      return send(200, { missing: hashes.filter((h) => !this.chunks.has(h)) });
    }
    const upload = /^\/api\/sites\/default\/roost\/chunks\/([0-9a-f]{64})$/.exec(path);
    if (req.method === "PUT" && upload) {
      if (this.uploads.length >= this.dropAfter) return void req.socket.destroy();
      const hash = upload[1]!;
      if (createHash("sha256").update(body).digest("hex") !== hash) return send(422, { error: { code: "chunk_mismatch", message: "bad bytes" } });
      this.uploads.push(hash);
      this.chunks.set(hash, body);
      return send(201, { hash, size: body.byteLength, stored: true });
    }
    const commit = /^\/api\/sites\/default\/roosts\/([a-z0-9-]+)\/versions$/.exec(path);
    if (req.method === "POST" && commit) {
      const parsed = CommitRequest.parse(JSON.parse(body.toString()));
      for (const hash of chunkSizes(parsed.files).keys()) {
        if (!this.chunks.has(hash)) return send(409, { error: { code: "chunks_missing", message: `missing ${hash}` } });
      }
      this.commits.push({ roost: commit[1]!, files: parsed.files });
      const totals = totalsOf(parsed.files);
      const view: VersionView = {
        roost: commit[1]!,
        version: this.commits.length,
        createdAt: Date.now(),
        createdBy: "admin key",
        message: parsed.message,
        files: totals.files,
        bytes: totals.bytes,
        chunks: totals.chunks,
        uniqueChunks: totals.uniqueChunks,
        newChunks: 0,
        newBytes: 0,
        added: 0,
        changed: 0,
        removed: 0,
        manifestSha256: "0".repeat(64),
      };
      return send(201, view);
    }
    send(404, { error: { code: "not_found", message: `no route ${req.method} ${path}` } });
  }
}

let hub: RoostHub;
let home: string;
beforeEach(async () => {
  hub = new RoostHub();
  await hub.start();
  home = scratch.dir("cortex-home-");
});
afterEach(() => hub.stop());

function push(folder: string, ...extra: string[]) {
  return runCli(["roost", "push", folder, "--roost", "web", ...extra], { env: { CORTEX_HUB: hub.url, CORTEX_API_KEY: "k" }, home });
}

function project(): string {
  const dir = scratch.dir("cortex-push-");
  writeFiles(dir, {
    "index.html": "<h1>hi</h1>\n",
    "assets/big.bin": bytesOf(9 * MiB, 1),
    "assets/other.bin": bytesOf(3 * MiB, 2),
    ".roostignore": "*.tmp\n",
    "scratch.tmp": "not shipped",
  });
  return dir;
}

describe("cortex roost push", () => {
  it("uploads every chunk once, then commits the manifest", async () => {
    const dir = project();
    const out = await push(dir, "-m", "first");
    // 9 MiB is three chunks, 3 MiB one, and the two small files one each.
    expect(out.stderr).toMatch(/uploading 6 of 6 chunks \(12\.0 MiB\)/);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^pushed web@1: 4 files, 12\.0 MiB;/);
    expect(hub.uploads).toHaveLength(6);
    expect(hub.commits[0]!.files.map((f) => f.path)).toEqual([".roostignore", "assets", "assets/big.bin", "assets/other.bin", "index.html"]);
  });

  it("uploads nothing on a second push of the same folder, and reads nothing again", async () => {
    const dir = project();
    expect((await push(dir)).code).toBe(0);
    hub.uploads.length = 0;
    const again = await push(dir, "--json");
    expect(again.code).toBe(0);
    expect(hub.uploads).toEqual([]);
    expect(JSON.parse(again.stdout)).toMatchObject({ uploadedChunks: 0, uploadedBytes: 0, hashedBytes: 0, version: { version: 2 } });
  });

  it("uploads only the chunks of the one file that changed", async () => {
    const dir = project();
    expect((await push(dir)).code).toBe(0);
    hub.uploads.length = 0;
    const big = bytesOf(9 * MiB, 1);
    big[5 * MiB]! ^= 0xff;
    writeFiles(dir, { "assets/big.bin": big });
    const out = await push(dir, "--json");
    expect(out.code).toBe(0);
    expect(hub.uploads).toHaveLength(1);
    expect(JSON.parse(out.stdout)).toMatchObject({ uploadedChunks: 1, uploadedBytes: 4 * MiB });
  });

  it("resumes an interrupted push: the second run sends only what did not make it", async () => {
    const dir = project();
    hub.dropAfter = 2;
    const broken = await push(dir, "--concurrency", "1");
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toMatch(/cannot reach the hub|broke off|socket/i);
    expect(hub.commits).toHaveLength(0);
    const first = [...hub.uploads];
    expect(first).toHaveLength(2);

    hub.dropAfter = Number.POSITIVE_INFINITY;
    const resumed = await push(dir, "--json");
    expect(resumed.code).toBe(0);
    expect(hub.uploads.slice(2).filter((h) => first.includes(h))).toEqual([]);
    expect(hub.uploads).toHaveLength(6);
    expect(hub.commits).toHaveLength(1);
  });

  it("refuses a folder with a symlink out of it before sending anything", async () => {
    const dir = project();
    symlinkSync("../../etc", join(dir, "escape"));
    const out = await push(dir);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/escape -> \.\.\/\.\.\/etc: its target leads out of the version folder/);
    expect(hub.uploads).toEqual([]);
  });

  it("refuses a roost name that is not one, and a folder that does not exist", async () => {
    expect((await runCli(["roost", "push", ".", "--roost", "Bad Name"], { env: { CORTEX_HUB: hub.url, CORTEX_API_KEY: "k" } })).code).not.toBe(0);
    const missing = await push(join(scratch.dir(), "nope"));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/is not a folder/);
  });
});
