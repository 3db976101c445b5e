import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { readTokenFile } from "../../agent/connection/token-file.ts";
import { CloseCode } from "../../protocol/close-codes.ts";
import { agentSetup, emptyDir, removeAgentSetups, runCli, spawnCli } from "./cli-run.ts";

const TOKEN = `cxn_build-01_${"cd".repeat(32)}`;
const OTHER = `cxn_build-01_${"ef".repeat(32)}`;
const uid = process.getuid!();

function tokenFile(mode: number, content = `${TOKEN}\n`): string {
  const path = join(emptyDir(), "node.token");
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
  return path;
}

describe("readTokenFile", () => {
  it("reads the one line of a 0600 file owned by this user", () => {
    expect(readTokenFile(tokenFile(0o600))).toBe(TOKEN);
    expect(readTokenFile(tokenFile(0o400, `\n  ${TOKEN}  \r\n\n`))).toBe(TOKEN);
  });

  it("refuses a file group or others may read or write, naming the fix", () => {
    for (const [mode, verb] of [[0o640, "read"], [0o604, "read"], [0o644, "read"], [0o620, "write"], [0o602, "write"], [0o610, "write"]] as const) {
      const path = tokenFile(mode);
      const want = `token file ${path}: mode ${mode.toString(8).padStart(4, "0")} lets group or others ${verb} it; run chmod 600 ${path}`;
      expect(() => readTokenFile(path), mode.toString(8)).toThrow(want);
    }
  });

  it("refuses a file owned by another user, who could swap the token", () => {
    const path = tokenFile(0o600);
    if (uid === 0) {
      chownSync(path, 65534, 65534);
      expect(() => readTokenFile(path)).toThrow(`owned by uid 65534, not by this user (0) or root`);
    } else {
      expect(() => readTokenFile(path, { uid: uid + 1 })).toThrow(`owned by uid ${uid}, not by this user (${uid + 1}) or root`);
    }
    expect(readTokenFile(path, { uid: uid + 1, anyOwner: true })).toBe(TOKEN);
  });

  it("refuses what is not one token in a regular file: missing, a folder, a fifo (without blocking), empty, several lines", () => {
    const dir = emptyDir();
    expect(() => readTokenFile(join(dir, "absent"))).toThrow(/ENOENT/);
    mkdirSync(join(dir, "folder"), { mode: 0o700 });
    expect(() => readTokenFile(join(dir, "folder"))).toThrow("not a regular file");
    execFileSync("mkfifo", ["-m", "600", join(dir, "fifo")]);
    expect(() => readTokenFile(join(dir, "fifo"))).toThrow("not a regular file");
    expect(() => readTokenFile(tokenFile(0o600, "\n \n"))).toThrow("empty");
    expect(() => readTokenFile(tokenFile(0o600, `${TOKEN}\n${OTHER}\n`))).toThrow("more than one line");
    expect(() => readTokenFile(tokenFile(0o600, "x".repeat(5000)))).toThrow("too large");
  });
});

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? (server.closeAllConnections(), server.close(() => resolve())) : resolve())));
afterEach(removeAgentSetups);

/** A hub that records the bearer token of each attempt and closes it as deregistered, so the agent exits. */
async function recordingHub(): Promise<{ url: string; attempts: IncomingHttpHeaders[] }> {
  const attempts: IncomingHttpHeaders[] = [];
  const wss = new WebSocketServer({ noServer: true });
  server = createServer();
  server.on("upgrade", (req, socket, head) => {
    attempts.push(req.headers);
    wss.handleUpgrade(req, socket, head, (ws) => ws.once("message", () => ws.close(CloseCode.DEREGISTERED, "node deregistered")));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, attempts };
}

describe("cortex node connect --token-file", () => {
  // Each spawn starts a real agent and its action worker: slow on a loaded machine.
  it("connects with the token from the file, named by flag, environment or config file", async () => {
    const hub = await recordingHub();
    const file = tokenFile(0o600);
    const agent = agentSetup();
    const byFlag = await spawnCli(["node", "connect", "--endpoint", hub.url, "--token-file", file, ...agent.args], agent.env).result;
    expect(byFlag.code).toBe(78);
    const byEnv = await spawnCli(["node", "connect", "--endpoint", hub.url, ...agent.args], { CORTEX_NODE_TOKEN_FILE: file, ...agent.env }).result;
    expect(byEnv.code).toBe(78);
    const config = join(emptyDir(), "config.json");
    writeFileSync(config, JSON.stringify({ connect: { endpoint: hub.url, tokenFile: file } }));
    const byConfig = await spawnCli(["node", "connect", "--config", config, ...agent.args], agent.env).result;
    expect(byConfig.code).toBe(78);
    expect(hub.attempts.map((h) => h.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
    for (const r of [byFlag, byEnv, byConfig]) expect(r.stdout + r.stderr).not.toContain(TOKEN);
  }, 60_000);

  // Each spawn starts a real agent and its action worker: slow on a loaded machine.
  it("a flag's token file wins over the environment's token, which wins over the config file's", async () => {
    const hub = await recordingHub();
    const config = join(emptyDir(), "config.json");
    writeFileSync(config, JSON.stringify({ connect: { endpoint: hub.url, token: OTHER } }));
    const agent = agentSetup();
    await spawnCli(["node", "connect", "--config", config, "--token-file", tokenFile(0o600), ...agent.args], { CORTEX_NODE_TOKEN: OTHER, ...agent.env }).result;
    await spawnCli(["node", "connect", "--config", config, ...agent.args], { CORTEX_NODE_TOKEN_FILE: tokenFile(0o600), ...agent.env }).result;
    expect(hub.attempts.map((h) => h.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
  }, 60_000);

  it("refuses a loose token file before connecting, with exit 78 so systemd does not restart it in a loop", async () => {
    const hub = await recordingHub();
    const file = tokenFile(0o644);
    const r = await spawnCli(["node", "connect", "--endpoint", hub.url, "--token-file", file]).result;
    expect(r.code).toBe(78);
    expect(r.stderr).toBe(`error: token file ${file}: mode 0644 lets group or others read it; run chmod 600 ${file}\n`);
    expect(hub.attempts).toHaveLength(0);
  });

  it("refuses a token and a token file given together, and a relative token file from the environment or config file", async () => {
    const both = await runCli(["node", "connect", "--endpoint", "http://127.0.0.1:9", "--token", TOKEN, "--token-file", "/x"]);
    expect(both).toMatchObject({ code: 1, stderr: "error: --token and --token-file are both set: keep only the token file\n" });
    const config = join(emptyDir(), "config.json");
    writeFileSync(config, JSON.stringify({ connect: { endpoint: "http://127.0.0.1:9", tokenFile: "node.token" } }));
    const relative = await runCli(["node", "connect", "--config", config]);
    expect(relative).toMatchObject({ code: 1, stderr: `error: config file ${config}: connect.tokenFile: Invalid string: must start with "/"\n` });
    const relativeEnv = await runCli(["node", "connect", "--endpoint", "http://127.0.0.1:9"], { env: { CORTEX_NODE_TOKEN_FILE: "node.token" } });
    expect(relativeEnv).toMatchObject({ code: 1, stderr: "error: token file node.token: must be an absolute path\n" });
  });
});
