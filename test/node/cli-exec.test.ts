import { afterEach, describe, expect, it } from "vitest";
import type { ServerResponse } from "node:http";
import { DirectiveView, FanOutAggregate } from "../../protocol/api.ts";
import { aggregate, directiveView, nodeView, openEvents, sendJson, startFakeHub, type FakeHub, type Recorded, type Route } from "./cli-fake-hub.ts";
import { runCli, spawnCli } from "./cli-run.ts";

const KEY = "ck_exec_key_0123456789";
const D1 = "d-00000000-0000-0000-0000-000000000001";
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function withHub(routes: Record<string, Route>) {
  hub = await startFakeHub(routes);
  return (...argv: string[]) => runCli(["--hub", hub!.url, "--api-key", KEY, ...argv]);
}

const chunk = (nodeId: string, directiveId: string, seq: number, text: string, stream?: "stdout" | "stderr") =>
  ({ event: "chunk", directiveId, nodeId, seq, chunk: text, ...(stream ? { stream } : {}) }) as const;

const fleet = {
  nodes: [
    nodeView({ id: "build-01", name: "build-01", group: "ci" }),
    nodeView({ id: "build-02", name: "second builder", group: "ci" }),
    nodeView({ id: "gpu-01", name: "gpu-01", group: "gpu" }),
  ],
};

describe("cortex exec on one node", () => {
  it("streams stdout and stderr chunks in order and exits with the remote exit code", async () => {
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send({ event: "status", directiveId: D1, nodeId: "build-01", status: "sent" });
        sse.send(chunk("build-01", D1, 0, "one\ntw"));
        sse.send(chunk("build-01", D1, 1, "oops\n", "stderr"));
        sse.send(chunk("build-01", D1, 2, "o\nthree"));
        sse.send({ event: "result", directive: directiveView({ status: "failed", exitCode: 3, output: "one\ntwo\nthree" }) });
        sse.end();
      },
    });
    const r = await cortex("exec", "build-01", "--timeout", "30", "--", "echo", "one;", "exit 3");
    expect(r.stdout).toBe("one\ntwo\nthree");
    expect(r.stderr).toBe("oops\n");
    expect(r.code).toBe(3);
    const req = hub!.requests[0]!;
    expect(req.headers.accept).toBe("text/event-stream");
    expect(req.body).toEqual({ action: "bash", params: { command: "echo one; exit 3", timeoutMs: 30_000 } });
  });

  it("--no-login-shell asks for a plain non-login shell; without it the hub's default (a login shell) applies", async () => {
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send({ event: "result", directive: directiveView({ output: "" }) });
        sse.end();
      },
    });
    expect((await cortex("exec", "build-01", "--no-login-shell", "--", "true")).code).toBe(0);
    expect((await cortex("exec", "build-01", "--", "true")).code).toBe(0);
    expect(hub!.requests.map((r) => r.body)).toEqual([
      { action: "bash", params: { command: "true", login: false } },
      { action: "bash", params: { command: "true" } },
    ]);
  });

  it("a directive that could not run (node offline) prints why on one line and exits 1", async () => {
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        const view = directiveView({ status: "failed", exitCode: null, output: "", errorCode: "offline", error: "node build-01 is not connected" });
        sse.send({ event: "result", directive: view });
        sse.end();
      },
    });
    const r = await cortex("exec", "build-01", "--", "true");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: build-01: failed (offline): node build-01 is not connected\n");
  });

  it("--json prints the final DirectiveView instead of the live output", async () => {
    const view = directiveView({ output: "hi\n" });
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send(chunk("build-01", D1, 0, "hi\n"));
        sse.send({ event: "result", directive: view });
        sse.end();
      },
    });
    const r = await cortex("exec", "build-01", "--json", "--", "echo", "hi");
    expect(r.code).toBe(0);
    expect(DirectiveView.parse(JSON.parse(r.stdout))).toEqual(view);
  });

  it("a stream that ends before the result, or carries an invalid event, is one error line", async () => {
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send({ event: "status", directiveId: D1, nodeId: "build-01", status: "running" });
        sse.end();
      },
      "POST /api/sites/default/nodes/build-02/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.raw('data: {"event":"chunk","chunk":42}\n\n');
        sse.end();
      },
    });
    const ended = await cortex("exec", "build-01", "--", "sleep", "1");
    expect(ended.code).toBe(1);
    expect(ended.stderr).toBe(`error: the hub ended the event stream before the directive finished; see \`cortex directive show ${D1}\`\n`);
    const invalid = await cortex("exec", "build-02", "--", "true");
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error: the hub sent an event that does not match the protocol: /);
    expect(invalid.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exits 128 + the signal's number when a signal killed the remote command, as a shell does", async () => {
    const cortex = await withHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send(chunk("build-01", D1, 0, "working\n"));
        const view = directiveView({ status: "failed", exitCode: null, signal: "SIGKILL", errorCode: "exec_failed", error: "killed by SIGKILL", output: "working\n" });
        sse.send({ event: "result", directive: view });
        sse.end();
      },
    });
    const r = await cortex("exec", "build-01", "--", "stress", "--vm", "64");
    expect(r.code).toBe(128 + 9);
    expect(r.stdout).toBe("working\n");
    expect(r.stderr).toBe("error: build-01: failed (exec_failed): killed by SIGKILL\n");
  });

  it("takes --timeout in seconds and says so when it is out of range, before sending anything", async () => {
    const cortex = await withHub({});
    const r = await cortex("exec", "build-01", "--timeout", "9000", "--", "true");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--timeout <s>.*'9000' is invalid\. at most 600 seconds/);
    expect(r.stderr).not.toMatch(/ms\b|timeoutMs/);
    for (const bad of ["0", "-5", "soon", "0.0001"]) {
      const refused = await cortex("exec", "build-01", "--timeout", bad, "--", "true");
      expect(refused.code, bad).toBe(1);
      expect(refused.stderr, bad).toContain("expected a number of seconds above 0");
    }
    const noCommand = await cortex("exec", "build-01");
    expect(noCommand.stderr).toBe("error: exec needs a command: cortex exec <node> -- <command...>\n");
    expect(hub!.requests).toHaveLength(0);
  });
});

describe("cortex exec on several nodes", () => {
  function fanOutHub(onFanOut: (req: Recorded, res: ServerResponse) => void) {
    return withHub({
      "GET /api/sites/default/nodes": (_req, res) => sendJson(res, 200, fleet),
      "POST /api/sites/default/fanouts": onFanOut,
    });
  }

  it("prefixes every line with the node's name, keeps partial lines per node, and prints the aggregate", async () => {
    const [a, b] = ["d-a", "d-b"];
    const cortex = await fanOutHub((_req, res) => {
      const sse = openEvents(res, { "X-Cortex-Fanout": "f-1" });
      sse.send(chunk("build-01", a, 0, "alpha par"));
      sse.send(chunk("build-02", b, 0, "beta 1\nbeta 2\nbeta pa"));
      sse.send(chunk("build-01", a, 1, "tial\nalpha 2\n"));
      sse.send(chunk("build-02", b, 1, "warn\n", "stderr"));
      sse.send({ event: "result", directive: directiveView({ id: a, nodeId: "build-01", fanoutId: "f-1" }) });
      sse.send(chunk("build-02", b, 2, "rtial"));
      sse.send({ event: "result", directive: directiveView({ id: b, nodeId: "build-02", fanoutId: "f-1", status: "failed", exitCode: 2 }) });
      sse.send({ event: "aggregate", aggregate: aggregate({ total: 2, succeeded: 1, failed: 1 }) });
      sse.end();
    });
    const r = await cortex("exec", "--group", "ci", "--concurrency", "4", "--", "make", "test");
    expect(r.stdout).toBe(
      [
        "second builder | beta 1",
        "second builder | beta 2",
        "build-01       | alpha partial",
        "build-01       | alpha 2",
        "second builder | beta partial",
        "",
      ].join("\n"),
    );
    expect(r.stderr).toBe("second builder | warn\n2 nodes: 1 succeeded, 1 failed\n  second builder: failed (exit 2)\n");
    expect(r.code).toBe(1);
    const post = hub!.requests.find((q) => q.path.endsWith("/fanouts"))!;
    expect(post.body).toEqual({ action: "bash", params: { command: "make test" }, target: { group: "ci" }, concurrency: 4 });
  });

  it("exits 0 when every node succeeded, and a comma-separated list targets those nodes", async () => {
    const cortex = await fanOutHub((_req, res) => {
      const sse = openEvents(res, { "X-Cortex-Fanout": "f-1" });
      sse.send({ event: "result", directive: directiveView({ id: "d-a", nodeId: "build-01", output: "up\n" }) });
      sse.send({ event: "result", directive: directiveView({ id: "d-b", nodeId: "gpu-01", output: "up\n" }) });
      sse.send({ event: "aggregate", aggregate: aggregate({ total: 2, succeeded: 2 }) });
      sse.end();
    });
    const r = await cortex("exec", "build-01,gpu-01", "--", "uptime");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("build-01 | up\ngpu-01   | up\n");
    expect(hub!.requests.find((q) => q.path.endsWith("/fanouts"))!.body).toMatchObject({ target: { nodes: ["build-01", "gpu-01"] } });
  });

  it("summarises offline and tier-refused nodes and --json prints {fanoutId, aggregate, directives}", async () => {
    const offline = directiveView({ id: "d-b", nodeId: "build-02", status: "failed", exitCode: null, errorCode: "offline", error: "not connected", output: null });
    const refused = directiveView({ id: "d-c", nodeId: "gpu-01", status: "refused", exitCode: null, errorCode: "tier_refused", error: "action bash is not allowed at tier unprivileged", output: null });
    const agg = aggregate({ total: 3, succeeded: 1, offline: 1, refused: 1 });
    const events = (res: ServerResponse) => {
      const sse = openEvents(res, { "X-Cortex-Fanout": "f-1" });
      for (const directive of [directiveView({ id: "d-a" }), offline, refused]) sse.send({ event: "result", directive });
      sse.send({ event: "aggregate", aggregate: agg });
      sse.end();
    };
    const cortex = await fanOutHub((_req, res) => events(res));
    const r = await cortex("exec", "--all", "--", "id");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "3 nodes: 1 succeeded, 1 offline, 1 refused by tier\n" +
        "  second builder: failed (offline): not connected\n" +
        "  gpu-01: refused (tier_refused): action bash is not allowed at tier unprivileged\n",
    );
    const json = JSON.parse((await cortex("exec", "--all", "--json", "--", "id")).stdout);
    expect(FanOutAggregate.parse(json.aggregate)).toEqual(agg);
    expect(json.directives.map((d: unknown) => DirectiveView.parse(d).nodeId)).toEqual(["build-01", "build-02", "gpu-01"]);
  });

  it("--all counts the machines that were offline, apart from the ones it ran on, and still exits 0 when those succeeded", async () => {
    const cortex = await fanOutHub((_req, res) => {
      const sse = openEvents(res, { "X-Cortex-Fanout": "f-1" });
      sse.send({ event: "result", directive: directiveView({ id: "d-a", nodeId: "build-01", output: "up\n" }) });
      sse.send({ event: "aggregate", aggregate: aggregate({ total: 1, succeeded: 1, skippedOffline: 2 }) });
      sse.end();
    });
    const r = await cortex("exec", "--all", "--", "uptime");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("1 node: 1 succeeded; 2 offline nodes not asked\n");
  });

  it("--all and --group together are refused by commander", async () => {
    const cortex = await withHub({});
    const r = await cortex("exec", "--all", "--group", "ci", "--", "id");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--group.*cannot be used with.*--all/);
  });
});

describe("the real cortex binary", () => {
  it("prints chunks as they arrive, before the directive ends", async () => {
    let sse: ReturnType<typeof openEvents> | undefined;
    hub = await startFakeHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        sse = openEvents(res);
        sse.send(chunk("build-01", D1, 0, "first\n"));
      },
    });
    const child = spawnCli(["exec", "build-01", "--", "long", "job"], { CORTEX_HUB: hub.url, CORTEX_API_KEY: KEY });
    await new Promise<void>((resolve) => child.stdout!.on("data", (text: string) => text.includes("first") && resolve()));
    sse!.send(chunk("build-01", D1, 1, "second\n"));
    sse!.send({ event: "result", directive: directiveView({ status: "failed", exitCode: 7 }) });
    sse!.end();
    const r = await child.result;
    expect(r.stdout).toBe("first\nsecond\n");
    expect(r.code).toBe(7);
  });

  it("Ctrl-C sends the directive's cancel to the hub and exits 130", async () => {
    hub = await startFakeHub({
      "POST /api/sites/default/nodes/build-01/directives": (_req, res) => {
        const sse = openEvents(res);
        sse.send({ event: "status", directiveId: D1, nodeId: "build-01", status: "running" });
        sse.send(chunk("build-01", D1, 0, "working\n"));
      },
      [`POST /api/sites/default/directives/${D1}/cancel`]: (_req, res) => sendJson(res, 200, directiveView({ status: "cancelled", exitCode: null })),
    });
    const child = spawnCli(["exec", "build-01", "--", "sleep", "100"], { CORTEX_HUB: hub.url, CORTEX_API_KEY: KEY });
    await new Promise<void>((resolve) => child.stdout!.on("data", (text: string) => text.includes("working") && resolve()));
    child.kill("SIGINT");
    const cancel = await hub.waitFor(`POST /api/sites/default/directives/${D1}/cancel`);
    expect(cancel.headers.authorization).toBe(`Bearer ${KEY}`);
    const r = await child.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe(`cancelled directive ${D1}\n`);
  });

  it("Ctrl-C during a fan-out cancels the fan-out named in the response header", async () => {
    hub = await startFakeHub({
      "GET /api/sites/default/nodes": (_req, res) => sendJson(res, 200, fleet),
      "POST /api/sites/default/fanouts": (_req, res) => {
        const sse = openEvents(res, { "X-Cortex-Fanout": "f-42" });
        sse.send(chunk("build-01", "d-a", 0, "busy\n"));
      },
      "POST /api/sites/default/fanouts/f-42/cancel": (_req, res) => sendJson(res, 200, aggregate({ fanoutId: "f-42", total: 3, cancelled: 3 })),
    });
    const child = spawnCli(["exec", "--all", "--", "sleep", "100"], { CORTEX_HUB: hub.url, CORTEX_API_KEY: KEY });
    await new Promise<void>((resolve) => child.stdout!.on("data", (text: string) => text.includes("busy") && resolve()));
    child.kill("SIGINT");
    await hub.waitFor("POST /api/sites/default/fanouts/f-42/cancel");
    const r = await child.result;
    expect(r.code).toBe(130);
    expect(r.stderr).toBe("cancelled fan-out f-42\n");
  });
});
