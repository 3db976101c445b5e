import { afterEach, describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DirectiveListResponse, DirectiveView, RunRecord, type DirectiveRequest } from "../../protocol/api.ts";
import { directiveView, sendJson, startFakeHub, type FakeHub } from "./cli-fake-hub.ts";
import { emptyDir, runCli } from "./cli-run.ts";

const PATH = "/api/sites/default/nodes/build-01/directives";
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255]);
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

/** A hub whose directive endpoint answers with `answer(request)` as a finished DirectiveView. */
async function withDirectives(answer: (req: DirectiveRequest) => Partial<DirectiveView>) {
  hub = await startFakeHub({
    [`POST ${PATH}`]: (req, res) => {
      const body = req.body as DirectiveRequest;
      sendJson(res, 200, directiveView({ action: body.action, params: body.params, ...answer(body) }));
    },
  });
  return (argv: string[], cwd?: string) => runCli(["--hub", hub!.url, "--api-key", "k", ...argv], { cwd });
}

const sent = () => hub!.requests.at(-1)!.body as DirectiveRequest;

describe("file and run commands", () => {
  it("read sends path, offset and limit and prints the text", async () => {
    const cortex = await withDirectives(() => ({ output: "     3\tline three" }));
    const r = await cortex(["read", "build-01", "/etc/hosts", "--offset", "3", "--limit", "1"]);
    expect(r).toMatchObject({ code: 0, stdout: "     3\tline three\n" });
    expect(sent()).toEqual({ action: "read", params: { path: "/etc/hosts", offset: 3, limit: 1 } });
  });

  it("reading an image prints its type and size, and --out writes the decoded bytes", async () => {
    const cortex = await withDirectives(() => ({ output: "", data: { kind: "image", mediaType: "image/png", base64: PNG.toString("base64") } }));
    const plain = await cortex(["read", "build-01", "/tmp/cortex-sandbox/a.png"]);
    expect(plain.stdout).toBe("image/png, 12 B: pass --out <file> to save it\n");
    const dir = emptyDir();
    const saved = await cortex(["read", "build-01", "/tmp/cortex-sandbox/a.png", "--out", "copy.png"], dir);
    expect(saved.code).toBe(0);
    expect(saved.stdout).toBe(`saved 12 B to ${join(dir, "copy.png")}\n`);
    expect(readFileSync(join(dir, "copy.png"))).toEqual(PNG);
  });

  it("--out on a text file is refused instead of saving line-numbered text", async () => {
    const cortex = await withDirectives(() => ({ output: "     1\thello" }));
    const r = await cortex(["read", "build-01", "/srv/a.txt", "--out", "a.txt"]);
    expect(r).toMatchObject({ code: 1, stderr: "error: /srv/a.txt is text, not an image; --out saves images only\n" });
  });

  it("write sends --content as UTF-8 and a binary --from-file as base64", async () => {
    const cortex = await withDirectives(() => ({ output: "wrote 5 bytes" }));
    const text = await cortex(["write", "build-01", "/srv/a.txt", "--content", "hello"]);
    expect(text).toMatchObject({ code: 0, stdout: "wrote 5 bytes\n" });
    expect(sent().params).toEqual({ path: "/srv/a.txt", content: "hello", encoding: "utf8" });

    const dir = emptyDir();
    writeFileSync(join(dir, "logo.png"), PNG);
    await cortex(["write", "build-01", "/srv/logo.png", "--from-file", "logo.png"], dir);
    expect(sent().params).toEqual({ path: "/srv/logo.png", content: PNG.toString("base64"), encoding: "base64" });

    const neither = await cortex(["write", "build-01", "/srv/a.txt"]);
    expect(neither.stderr).toBe("error: write needs exactly one of --content and --from-file\n");
  });

  it("a relative remote path is refused before anything is sent", async () => {
    const cortex = await withDirectives(() => ({}));
    const r = await cortex(["read", "build-01", "etc/hosts"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: invalid read: path: path must be absolute\n");
    expect(hub!.requests).toHaveLength(0);
  });

  it("edit, glob and grep map their flags onto the action params", async () => {
    const cortex = await withDirectives(() => ({ output: "ok" }));
    await cortex(["edit", "build-01", "/srv/a.txt", "--old", "a", "--new", "b", "--all"]);
    expect(sent().params).toEqual({ path: "/srv/a.txt", oldString: "a", newString: "b", replaceAll: true });
    await cortex(["glob", "build-01", "**/*.ts", "--path", "/srv"]);
    expect(sent().params).toEqual({ pattern: "**/*.ts", path: "/srv" });
    await cortex(["grep", "build-01", "TODO", "--path", "/srv", "--glob", "*.ts", "-i", "--files", "--head-limit", "10", "--offset", "5"]);
    expect(sent().params).toEqual({ pattern: "TODO", path: "/srv", glob: "*.ts", caseInsensitive: true, outputMode: "files_with_matches", headLimit: 10, offset: 5 });
    const both = await cortex(["grep", "build-01", "x", "--path", "/srv", "--files", "--count"]);
    expect(both.code).not.toBe(0);
  });

  it("a refused directive prints the reason on one line and exits 1; --json still prints the record", async () => {
    const cortex = await withDirectives(() => ({ status: "refused", exitCode: null, output: null, errorCode: "tier_refused", error: "path /etc/shadow is under /etc, which tier sudo may not touch" }));
    const r = await cortex(["read", "build-01", "/etc/shadow"]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: "error: build-01: refused (tier_refused): path /etc/shadow is under /etc, which tier sudo may not touch\n" });
    const json = await cortex(["read", "build-01", "/etc/shadow", "--json"]);
    expect(json.code).toBe(1);
    expect(DirectiveView.parse(JSON.parse(json.stdout)).status).toBe("refused");
  });

  it("run launch prints the run id with the follow-up command; run status prints the state", async () => {
    const cortex = await withDirectives((req) =>
      req.action === "run.launch"
        ? { output: "", data: { kind: "run", runId: "run-abc", pid: 4242 } }
        : { output: "epoch 3/10\n", data: { kind: "run_status", runId: "run-abc", state: "running", exitCode: null } },
    );
    const launched = await cortex(["run", "launch", "build-01", "--name", "train", "--stall-timeout", "60", "--", "python", "train.py"]);
    expect(launched.stdout).toBe("Started run run-abc (pid 4242) on build-01.\nFollow it with: cortex run status build-01 run-abc\n");
    expect(sent()).toEqual({ action: "run.launch", params: { command: "python train.py", name: "train", stallTimeoutMs: 60_000 } });
    const status = await cortex(["run", "status", "build-01", "run-abc"]);
    expect(status.stdout).toBe("run run-abc: running\nepoch 3/10\n");
    expect(sent()).toEqual({ action: "run.status", params: { runId: "run-abc" } });
  });

  it("run status of a run that ended is read from the hub's record, without asking the node (which may be offline)", async () => {
    const ended = { state: "failed", exitCode: 3, reason: "exit code 3", outputTail: "loss: nan\n", startedAt: 1_000, endedAt: Date.UTC(2026, 0, 5), reportedAt: Date.UTC(2026, 0, 6) };
    const record = { runId: "run-abc", nodeId: "build-01", directiveId: "d-1", launchedBy: "ada@example.com", launchedAt: 500, ended };
    hub = await startFakeHub({ "GET /api/sites/default/nodes/build-01/runs/run-abc": (_req, res) => sendJson(res, 200, record) });
    const r = await runCli(["--hub", hub.url, "--api-key", "k", "run", "status", "build-01", "run-abc"]);
    expect(r).toMatchObject({ code: 0, stdout: "run run-abc: failed, exit 3 (exit code 3)\nloss: nan\n" });
    expect(r.stderr).toMatch(/^note: from the hub's record; the run ended /);
    expect(hub.requests.map((q) => q.method)).toEqual(["GET"]);
    const json = await runCli(["--hub", hub.url, "--api-key", "k", "run", "status", "build-01", "run-abc", "--json"]);
    expect(RunRecord.parse(JSON.parse(json.stdout))).toEqual(record);
  });

  it("run status says when a run's output is withheld from the caller, rather than print an empty tail", async () => {
    const ended = { state: "done", exitCode: 0, reason: null, outputTail: "", outputWithheld: true, startedAt: 1_000, endedAt: Date.UTC(2026, 0, 5), reportedAt: Date.UTC(2026, 0, 6) };
    const record = { runId: "run-abc", nodeId: "build-01", directiveId: "d-1", launchedBy: "ada@example.com", launchedAt: 500, ended };
    hub = await startFakeHub({ "GET /api/sites/default/nodes/build-01/runs/run-abc": (_req, res) => sendJson(res, 200, record) });
    const r = await runCli(["--hub", hub.url, "--api-key", "k", "run", "status", "build-01", "run-abc"]);
    expect(r).toMatchObject({ code: 0, stdout: "run run-abc: done, exit 0\n(its output is withheld: only a site admin reads what a run printed)\n" });
  });

  it("run status of a run with no end on record, on an offline node, says the state is unknown and exits 1", async () => {
    const record = { runId: "run-abc", nodeId: "build-01", directiveId: "d-1", launchedBy: "ada@example.com", launchedAt: Date.UTC(2026, 0, 5), ended: null };
    hub = await startFakeHub({
      "GET /api/sites/default/nodes/build-01/runs/run-abc": (_req, res) => sendJson(res, 200, record),
      [`POST ${PATH}`]: (_req, res) =>
        sendJson(res, 200, directiveView({ action: "run.status", status: "failed", exitCode: null, errorCode: "offline", error: "node build-01 is not connected", output: null })),
    });
    const r = await runCli(["--hub", hub.url, "--api-key", "k", "run", "status", "build-01", "run-abc"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: build-01 is offline and the hub has no report of the run ending, so its state now is unknown\. It was launched .* by ada@example\.com\.\n$/);
  });

  it("run status surfaces a hub refusal other than an unknown run, such as an unknown node", async () => {
    hub = await startFakeHub({
      "GET /api/sites/default/nodes/build-01/runs/run-abc": (_req, res) => sendJson(res, 404, { error: { code: "node_not_found", message: "node build-01 not found" } }),
    });
    const r = await runCli(["--hub", hub.url, "--api-key", "k", "run", "status", "build-01", "run-abc"]);
    expect(r).toMatchObject({ code: 1, stdout: "", stderr: "error: node build-01 not found (404)\n" });
  });

  it("run cancel prints its outcome once", async () => {
    const cortex = await withDirectives(() => ({ output: "run run-abc is cancelled", data: { kind: "run_status", runId: "run-abc", state: "cancelled", exitCode: null } }));
    const r = await cortex(["run", "cancel", "build-01", "run-abc"]);
    expect(r).toEqual({ code: 0, stdout: "run run-abc: cancelled\n", stderr: "" });
    const failing = await withDirectives(() => ({
      status: "failed",
      exitCode: null,
      output: "run run-abc is running",
      errorCode: "exec_failed",
      error: "run run-abc did not stop",
      data: { kind: "run_status", runId: "run-abc", state: "running", exitCode: null },
    }));
    const stuck = await failing(["run", "cancel", "build-01", "run-abc"]);
    expect(stuck).toEqual({ code: 1, stdout: "", stderr: "error: build-01: failed (exec_failed): run run-abc did not stop\n" });
  });
});

describe("cortex directive", () => {
  const views = [directiveView(), directiveView({ id: "d-2", action: "read", params: { path: "/etc/hosts" }, status: "refused", exitCode: null })];

  it("list passes the filters as query parameters and shows a table; --json parses", async () => {
    hub = await startFakeHub({ "GET /api/sites/default/directives": (_req, res) => sendJson(res, 200, { directives: views, nextBefore: 17 }) });
    const cortex = (...argv: string[]) => runCli(["--hub", hub!.url, "--api-key", "k", "directive", "list", ...argv]);
    const r = await cortex("--node", "build-01", "--status", "refused", "--action", "read", "--limit", "5");
    expect(Object.fromEntries(hub.requests[0]!.query)).toEqual({ node: "build-01", status: "refused", action: "read", limit: "5" });
    expect(r.stdout).toMatch(/d-2 .*build-01 .*read .*refused .*\/etc\/hosts/);
    expect(r.stdout).toContain("More: cortex directive list --before 17");
    expect(DirectiveListResponse.parse(JSON.parse((await cortex("--json")).stdout)).directives).toHaveLength(2);
  });

  it("show prints the record's facts and its output; --json prints the DirectiveView", async () => {
    hub = await startFakeHub({ "GET /api/sites/default/directives/d-1": (_req, res) => sendJson(res, 200, views[0]) });
    const r = await runCli(["--hub", hub.url, "--api-key", "k", "directive", "show", "d-1"]);
    expect(r.stdout).toMatch(/^id: +d-0+/m);
    expect(r.stdout).toMatch(/^params: +\{"command":"echo hi"\}$/m);
    expect(r.stdout.endsWith("\nhi\n")).toBe(true);
    const json = await runCli(["--hub", hub.url, "--api-key", "k", "directive", "show", "d-1", "--json"]);
    expect(DirectiveView.parse(JSON.parse(json.stdout))).toEqual(views[0]);
  });

  it("show says which signal killed a command that has no exit code", async () => {
    const killed = directiveView({ status: "failed", exitCode: null, signal: "SIGKILL", error: "killed by SIGKILL" });
    hub = await startFakeHub({ "GET /api/sites/default/directives/d-1": (_req, res) => sendJson(res, 200, killed) });
    const r = await runCli(["--hub", hub.url, "--api-key", "k", "directive", "show", "d-1"]);
    expect(r.stdout).toMatch(/^exit code: +— \(killed by SIGKILL\)$/m);
  });
});
