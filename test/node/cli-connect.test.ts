import { afterEach, describe, expect, it } from "vitest";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import { RegisterMessage } from "../../protocol/node-messages.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { emptyDir, runCli, spawnCli } from "./cli-run.ts";

const TOKEN_CONFIG = `cxn_build-01_${"aa".repeat(32)}`;
const TOKEN_ENV = `cxn_build-01_${"bb".repeat(32)}`;

interface Attempt {
  headers: IncomingHttpHeaders;
  register?: RegisterMessage;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

/** A hub that refuses the upgrade with `status`, or takes the register and closes with `closeCode`. */
async function startHub(plan: { status: number } | { closeCode: number }): Promise<{ url: string; attempts: Attempt[] }> {
  const attempts: Attempt[] = [];
  const wss = new WebSocketServer({ noServer: true });
  server = createServer();
  server.on("upgrade", (req, socket, head) => {
    const attempt: Attempt = { headers: req.headers };
    attempts.push(attempt);
    if ("status" in plan) {
      const body = JSON.stringify({ error: { code: "unauthorized", message: "invalid or revoked token" } });
      socket.end(`HTTP/1.1 ${plan.status} Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.once("message", (data) => {
        attempt.register = RegisterMessage.parse(JSON.parse(String(data)));
        ws.close(plan.closeCode, "node deregistered");
      });
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, attempts };
}

describe("cortex node connect", () => {
  it("merges flags over environment over the config file and exits 78 with the reason when the hub refuses the node", async () => {
    const hub = await startHub({ closeCode: CloseCode.DEREGISTERED });
    const config = join(emptyDir(), "config.json");
    writeFileSync(config, JSON.stringify({ connect: { endpoint: hub.url, token: TOKEN_CONFIG, name: "from-config", group: "cfg", tier: "sudo", heartbeatMs: 2000 } }));
    const child = spawnCli(["node", "connect", "--config", config, "--name", "from-flag", "--sandbox", "/tmp/cortex-cli-sandbox"], { CORTEX_NODE_TOKEN: TOKEN_ENV });
    const r = await child.result;
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/this node was deregistered from the hub; register it again to reconnect/);
    expect(hub.attempts).toHaveLength(1);
    expect(hub.attempts[0]!.headers.authorization).toBe(`Bearer ${TOKEN_ENV}`);
    expect(hub.attempts[0]!.register).toMatchObject({ agentId: "build-01", name: "from-flag", group: "cfg", tier: "sudo", heartbeatMs: 2000 });
    expect(r.stdout + r.stderr).not.toContain(TOKEN_ENV);
  });

  it("a refused upgrade (401) ends the agent at once with the reason and exit 78", async () => {
    const hub = await startHub({ status: 401 });
    const r = await spawnCli(["node", "connect", "--endpoint", hub.url, "--reconnect-ms", "100"], { CORTEX_NODE_TOKEN: TOKEN_ENV }).result;
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/the hub refused the token .*cortex node rekey.*HTTP 401: invalid or revoked token/);
    expect(hub.attempts).toHaveLength(1);
  });

  it("missing or invalid options are one error line before any connection is tried", async () => {
    const noToken = await runCli(["node", "connect", "--endpoint", "http://127.0.0.1:9"]);
    expect(noToken).toMatchObject({ code: 1, stderr: "error: no token: pass --token-file, set CORTEX_NODE_TOKEN_FILE or set connect.tokenFile in the config file\n" });
    const noEndpoint = await runCli(["node", "connect"], { env: { CORTEX_NODE_TOKEN: TOKEN_ENV } });
    expect(noEndpoint.stderr).toMatch(/^error: no endpoint: pass --endpoint/);
    const tooFast = await runCli(["node", "connect", "--endpoint", "http://127.0.0.1:9", "--token", TOKEN_ENV, "--heartbeat-ms", "10"]);
    expect(tooFast.stderr).toMatch(/^error: invalid connect options: heartbeatMs: /);
    const badTier = await runCli(["node", "connect", "--tier", "admin"]);
    expect(badTier.code).not.toBe(0);
    expect(badTier.stderr).toMatch(/--tier.*admin/);
  });
});
