import { afterEach, describe, expect, it } from "vitest";
import { createServer } from "node:net";
import { NodeCredentials, NodeListResponse, NodeView } from "../../protocol/api.ts";
import { apiError, credentials, nodeView, sendJson, startFakeHub, type FakeHub, type Route } from "./cli-fake-hub.ts";
import { runCli } from "./cli-run.ts";

const KEY = "ck_secret_key_0123456789";
let hub: FakeHub | undefined;

afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function withHub(routes: Record<string, Route>) {
  hub = await startFakeHub(routes);
  return (...argv: string[]) => runCli(["--hub", hub!.url, "--api-key", KEY, ...argv]);
}

const nodes = [
  nodeView(),
  nodeView({ id: "gpu-01", name: "gpu box", group: "gpu", tier: "root", runningTier: "sudo", status: "disconnected", lastHeartbeatAt: Date.now() - 5 * 60_000 }),
  nodeView({ id: "new-01", name: "new-01", group: null, status: "connecting", runningTier: null, lastHeartbeatAt: null, metrics: null, version: null }),
];

describe("cortex node", () => {
  it("register sends the request and prints the token once with the ready connect command", async () => {
    const creds = credentials();
    const cortex = await withHub({ "POST /api/sites/default/nodes": (_req, res) => sendJson(res, 201, creds) });
    const r = await cortex("node", "register", "--name", "build-01", "--group", "ci", "--tier", "sudo");
    expect(r.code).toBe(0);
    expect(hub!.requests[0]!.body).toEqual({ name: "build-01", group: "ci", tier: "sudo" });
    expect(hub!.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(r.stdout).toContain(creds.token);
    expect(r.stdout).toMatch(/shown once/);
    expect(r.stdout).toContain(`Install the agent on the machine and start it (Node 20 or newer; run as root):\n  ${creds.installCommand}\nIt asks for the token`);
    expect(r.stdout).toContain(creds.connectCommand);
    expect(r.stdout.split(creds.token).length - 1).toBe(1); // only on its own line, in no command
  });

  it("register --json prints NodeCredentials that parse with the protocol schema", async () => {
    const cortex = await withHub({ "POST /api/sites/lab/nodes": (_req, res) => sendJson(res, 201, credentials()) });
    const r = await cortex("--site", "lab", "node", "register", "--name", "build-01", "--id", "build-01", "--json");
    expect(r.code).toBe(0);
    expect(NodeCredentials.parse(JSON.parse(r.stdout))).toEqual(credentials());
    expect(hub!.requests[0]!.body).toMatchObject({ id: "build-01", tier: "unprivileged" });
  });

  it("register refuses a tier that does not exist before sending anything", async () => {
    const cortex = await withHub({});
    const r = await cortex("node", "register", "--name", "x", "--tier", "admin");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--tier.*admin.*root, sudo, unprivileged/s);
    expect(hub!.requests).toHaveLength(0);
  });

  it("list shows every node's status, heartbeat age and metrics in a table", async () => {
    // Heartbeat ages are relative to the moment the hub answers, however long the machine took to get here.
    const fresh = () => nodes.map((n) => (n.id === "build-01" ? { ...n, lastHeartbeatAt: Date.now() - 3_000 } : n));
    const cortex = await withHub({ "GET /api/sites/default/nodes": (_req, res) => sendJson(res, 200, { nodes: fresh() }) });
    const r = await cortex("node", "list");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const row = (id: string) => lines.find((l) => l.includes(` ${id} `))!;
    expect(lines.find((l) => l.includes("last heartbeat"))).toMatch(/id.*name.*group.*tier.*status.*cpu.*mem.*disk free.*version/);
    expect(row("build-01")).toMatch(/connected.*3s ago.*13%.*2\.0G\/8\.0G.*50\.0G\/100\.0G.*0\.1\.0/);
    expect(row("gpu-01")).toMatch(/gpu box.*sudo \(ceiling root\).*disconnected.*5m ago/);
    expect(row("new-01")).toMatch(/connecting.*never/);
  });

  it("list filters by status and group, and --json prints {nodes} that parse", async () => {
    const cortex = await withHub({ "GET /api/sites/default/nodes": (_req, res) => sendJson(res, 200, { nodes }) });
    const byStatus = await cortex("node", "list", "--status", "disconnected", "--json");
    expect(NodeListResponse.parse(JSON.parse(byStatus.stdout)).nodes.map((n) => n.id)).toEqual(["gpu-01"]);
    const byGroup = await cortex("node", "list", "--group", "ci");
    expect(byGroup.stdout).toContain("build-01");
    expect(byGroup.stdout).not.toContain("gpu-01");
  });

  it("show prints every fact of the node, including metrics, host and token prefix; --json prints the NodeView", async () => {
    const view = nodeView({ lastError: "disk full" });
    const cortex = await withHub({ "GET /api/sites/default/nodes/build-01": (_req, res) => sendJson(res, 200, view) });
    const r = await cortex("node", "show", "build-01");
    expect(r.code).toBe(0);
    for (const fact of ["build-01.lan", "linux 6.1 x64", "0.1.0", "running tier:", "cxn_build-01_a1b2c3…", "disk full", "12.5% of 4 cores", "50.0G free of 100.0G", "0.50 0.25 0.10"]) {
      expect(r.stdout).toContain(fact);
    }
    const json = await cortex("node", "show", "build-01", "--json");
    expect(NodeView.parse(JSON.parse(json.stdout))).toEqual(view);
  });

  it("deregister sends DELETE and rekey prints the new token and connect command", async () => {
    const fresh = credentials({ token: `cxn_build-01_${"cd".repeat(32)}` });
    const cortex = await withHub({
      "DELETE /api/sites/default/nodes/build-01": (_req, res) => sendJson(res, 200, nodeView({ status: "deregistered", deregisteredAt: Date.now() })),
      "POST /api/sites/default/nodes/build-01/rekey": (_req, res) => sendJson(res, 200, fresh),
    });
    const gone = await cortex("node", "deregister", "build-01");
    expect(gone.code).toBe(0);
    expect(gone.stdout).toMatch(/Deregistered node build-01/);
    const rekey = await cortex("node", "rekey", "build-01");
    expect(rekey.stdout).toContain(fresh.token);
    expect(rekey.stdout).toContain(`  ${fresh.installCommand} --new-token\n`);
    expect(rekey.stdout).toContain(fresh.connectCommand);
    const rekeyJson = await cortex("node", "rekey", "build-01", "--json");
    expect(NodeCredentials.parse(JSON.parse(rekeyJson.stdout)).token).toBe(fresh.token);
  });
});

describe("cortex errors", () => {
  it("a 404 ApiError becomes one line with the hub's message and status, and a non-zero exit", async () => {
    const cortex = await withHub({
      "GET /api/sites/default/nodes/build-09": (_req, res) => apiError(res, 404, "node_not_found", "node build-09 not found"),
    });
    const r = await cortex("node", "show", "build-09");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: node build-09 not found (404)\n");
  });

  it("a 401 says where the key comes from and never prints the key, even when the hub echoes it", async () => {
    const cortex = await withHub({
      "GET /api/sites/default/nodes": (req, res) => apiError(res, 401, "unauthorized", `invalid API key ${String(req.headers.authorization)}`),
    });
    const r = await cortex("node", "list");
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: invalid API key Bearer \[api key\] \(401\); check --api-key/);
    expect(r.stdout + r.stderr).not.toContain(KEY);
  });

  it("a refused connection is one line naming the hub and the cause", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const r = await runCli(["--hub", `http://127.0.0.1:${port}`, "--api-key", KEY, "node", "list"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot reach the hub at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  it("an answer that is not JSON, or not the protocol's shape, is one clear line", async () => {
    const cortex = await withHub({
      "GET /api/sites/default/nodes": (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{not json");
      },
      "GET /api/sites/default/nodes/build-01": (_req, res) => sendJson(res, 200, { id: "build-01", status: "sleeping" }),
    });
    const notJson = await cortex("node", "list");
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toBe("error: the hub answered GET /api/sites/default/nodes with something that is not JSON (200)\n");
    const wrongShape = await cortex("node", "show", "build-01");
    expect(wrongShape.code).toBe(1);
    expect(wrongShape.stderr).toMatch(/^error: the hub's answer to GET \/api\/sites\/default\/nodes\/build-01 does not match the protocol: .*status/);
    expect(wrongShape.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a server error page that is not an ApiError still gives one line with the status", async () => {
    const cortex = await withHub({
      "GET /api/sites/default/nodes": (_req, res) => {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html>bad gateway</html>");
      },
    });
    const r = await cortex("node", "list");
    expect(r.stderr).toBe("error: the hub answered 502 Bad Gateway\n");
    expect(r.code).toBe(1);
  });

  it("a malformed node id is refused by the CLI before any request", async () => {
    const cortex = await withHub({});
    const r = await cortex("node", "show", "Build 01");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/node id must be/);
    expect(hub!.requests).toHaveLength(0);
  });
});
