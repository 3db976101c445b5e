import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { freePort } from "../support/free-port.ts";
import { TempDirs } from "../support/temp-dirs.ts";
import { REPO_ROOT } from "../support/test-hub.ts";

/**
 * Browsers offer `permessage-deflate` on the dashboard's and the chat's sockets, and one deflate context spans a
 * connection: a secret and text an attacker wrote, compressed together, leak through the frames' sizes (CRIME). The
 * hub's compatibility flags must make the runtime refuse the offer. `wrangler dev` cannot show it (Miniflare's own
 * entry Worker answers the upgrade there), so this runs workerd alone, with the compatibility date and flags of
 * wrangler.toml, and a socket accepted by a Durable Object and relayed by the Worker, as the hub's are.
 */

const wranglerRequire = createRequire(createRequire(import.meta.url).resolve("wrangler/package.json"));
const WORKERD = (createRequire(wranglerRequire.resolve("miniflare"))("workerd") as { default: string }).default;
const NO_COMPRESSION = "no_web_socket_compression";

const WORKER = `import { DurableObject } from "cloudflare:workers";
export class Holder extends DurableObject {
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }
  webSocketMessage(ws, message) {
    ws.send(message);
  }
}
export default {
  fetch(request, env) {
    return env.HOLDER.get(env.HOLDER.idFromName("site")).fetch(request);
  },
};
`;

const dirs = new TempDirs();
const running: ChildProcess[] = [];

afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
  dirs.removeAll();
});

async function hubSettings(): Promise<{ date: string; flags: string[] }> {
  const wrangler = (await import(wranglerRequire.resolve("wrangler"))) as typeof import("wrangler");
  const config = wrangler.unstable_readConfig({ config: join(REPO_ROOT, "wrangler.toml") });
  if (!config.compatibility_date) throw new Error("wrangler.toml has no compatibility_date");
  return { date: config.compatibility_date, flags: config.compatibility_flags };
}

/** Starts workerd with these settings and resolves with its address once it answers. */
async function serve(date: string, flags: string[]): Promise<string> {
  const dir = dirs.make("cortex-socket-compression-");
  const port = await freePort();
  writeFileSync(join(dir, "worker.js"), WORKER);
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = (
    modules = [ (name = "worker.js", esModule = embed "worker.js") ],
    compatibilityDate = "${date}",
    compatibilityFlags = [${flags.map((f) => JSON.stringify(f)).join(", ")}],
    durableObjectNamespaces = [ (className = "Holder", uniqueKey = "holder", enableSql = true) ],
    durableObjectStorage = (inMemory = void),
    bindings = [ (name = "HOLDER", durableObjectNamespace = "Holder") ])) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
`,
  );
  const child = spawn(WORKERD, ["serve", join(dir, "config.capnp")], { stdio: ["ignore", "ignore", "pipe"] });
  running.push(child);
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (child.exitCode !== null) throw new Error(`workerd exited ${child.exitCode}: ${stderr}`);
    if (await fetch(url).then(() => true, () => false)) return url.replace(/^http/, "ws");
  }
  throw new Error(`workerd did not answer: ${stderr}`);
}

/** Opens a socket offering compression, as browsers do (and `ws` by default), and sends one message through it. */
async function negotiated(url: string): Promise<{ header: string | null; extensions: string; echo: string }> {
  const ws = new WebSocket(url, { perMessageDeflate: true });
  let header: string | null = null;
  ws.on("upgrade", (res) => (header = (res.headers["sec-websocket-extensions"] as string | undefined) ?? null));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const echo = new Promise<string>((resolve) => ws.once("message", (data: Buffer) => resolve(data.toString())));
  ws.send("a secret and a guess");
  const result = { header, extensions: ws.extensions, echo: await echo };
  ws.close();
  return result;
}

describe("browser sockets", () => {
  it("are never compressed: under the hub's compatibility settings the runtime refuses permessage-deflate", async () => {
    const { date, flags } = await hubSettings();
    expect(flags).toContain(NO_COMPRESSION);
    expect(await negotiated(await serve(date, flags))).toEqual({ header: null, extensions: "", echo: "a secret and a guess" });
  });

  it("the same runtime without the flag would compress, so the check above can tell", async () => {
    const { date, flags } = await hubSettings();
    const offered = await negotiated(await serve(date, flags.filter((f) => f !== NO_COMPRESSION)));
    expect(offered.extensions).toBe("permessage-deflate");
    expect(offered.header).toMatch(/^permessage-deflate/);
  });
});
