import { afterEach, describe, expect, it } from "vitest";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WebSocketServer } from "ws";
import { RegisterMessage } from "../../protocol/node-messages.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { IS_ROOT, NOT_ROOT_REASON, TEST_ACTION_USER, sharedTempRoot, testRunAs } from "../support/action-user.ts";
import { emptyDir, runCli, spawnCli } from "./cli-run.ts";

const TOKEN_CONFIG = `cxn_build-01_${"aa".repeat(32)}`;
const TOKEN_ENV = `cxn_build-01_${"bb".repeat(32)}`;

interface Attempt {
  headers: IncomingHttpHeaders;
  register?: RegisterMessage;
}

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));

/** A sandbox path the agent may create for the test's action user. */
function freshSandbox(): string {
  return join(openTempDir(), "sandbox");
}

const openDirs: string[] = [];
afterEach(() => {
  for (const dir of openDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temp folder the action user may pass through, as a sandbox's parent must be. */
function openTempDir(): string {
  const dir = mkdtempSync(join(sharedTempRoot(), "cortex-cli-"));
  chmodSync(dir, 0o755);
  openDirs.push(dir);
  return dir;
}

/** CORTEX_RUN_AS for an agent at a lower tier, when the test runs as root. */
function runAsEnv(): Record<string, string> {
  const runAs = testRunAs();
  return runAs ? { CORTEX_RUN_AS: runAs } : {};
}

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
    const child = spawnCli(["node", "connect", "--config", config, "--name", "from-flag", "--sandbox", freshSandbox()], { CORTEX_NODE_TOKEN: TOKEN_ENV, ...runAsEnv() });
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
    const r = await spawnCli(["node", "connect", "--endpoint", hub.url, "--reconnect-ms", "100", "--sandbox", freshSandbox()], { CORTEX_NODE_TOKEN: TOKEN_ENV, ...runAsEnv() }).result;
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

  it("refuses to start, in one line with exit 78, with a sandbox that is a symlink (even to /)", async () => {
    const hub = await startHub({ status: 401 });
    const link = join(openTempDir(), "sandbox");
    symlinkSync("/", link);
    const r = await spawnCli(["node", "connect", "--endpoint", hub.url, "--sandbox", link], { CORTEX_NODE_TOKEN: TOKEN_ENV, ...runAsEnv() }).result;
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(`error: cannot start: sandbox ${link} is a symlink; give the real folder it points to, or a new path\n`);
    expect(hub.attempts).toHaveLength(0);
  });

  // Four real CLI processes, one after the other: slow on a loaded machine.
  it.skipIf(!IS_ROOT)("as root at a lower tier, refuses to start without a user to run actions as, or with root or a missing user (%s)".replace("%s", NOT_ROOT_REASON), async () => {
    const hub = await startHub({ status: 401 });
    const base = ["node", "connect", "--endpoint", hub.url, "--tier", "sudo", "--sandbox", freshSandbox()];
    const none = await spawnCli(base, { CORTEX_NODE_TOKEN: TOKEN_ENV }).result;
    expect(none).toMatchObject({ code: 78, stderr: "error: cannot start: an agent running as root at tier sudo needs --run-as <user> (CORTEX_RUN_AS): its actions never run as root\n" });
    const asRoot = await spawnCli([...base, "--run-as", "root"], { CORTEX_NODE_TOKEN: TOKEN_ENV }).result;
    expect(asRoot.code).toBe(78);
    expect(asRoot.stderr).toMatch(/^error: cannot start: --run-as root: that user is root \(uid 0\)/);
    const missing = await spawnCli(base, { CORTEX_NODE_TOKEN: TOKEN_ENV, CORTEX_RUN_AS: "cortex-no-such-user" }).result;
    expect(missing).toMatchObject({ code: 78, stderr: "error: cannot start: --run-as cortex-no-such-user: no such user on this machine\n" });
    const owned = join(openTempDir(), "sandbox");
    mkdirSync(owned);
    const someoneElses = await spawnCli([...base.slice(0, -1), owned, "--run-as", TEST_ACTION_USER], { CORTEX_NODE_TOKEN: TOKEN_ENV }).result;
    expect(someoneElses.code).toBe(78);
    expect(someoneElses.stderr).toMatch(/^error: cannot start: sandbox .* exists and belongs to uid 0, not to cortex-test/);
    expect(hub.attempts).toHaveLength(0);
  }, 60_000);
});
