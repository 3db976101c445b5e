import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import type { Miniflare as MiniflareType } from "miniflare";
import { commandLineOf, processTree } from "./proc-stats.ts";
import { freePort } from "../../test/support/free-port.ts";
import { HubApi } from "../../test/support/hub-api.ts";
import type { TempDirs } from "../../test/support/temp-dirs.ts";
import { REPO_ROOT } from "../../test/support/test-hub.ts";

/** What the bench output says it measured, so no figure of this hub is mistaken for one through `wrangler dev`. */
export const DIRECT_HUB_RUNTIME =
  "the Worker bundle of `wrangler deploy --dry-run`, run by the Miniflare wrangler 4.86 bundles with the bindings, Durable Objects and migrations wrangler derives from wrangler.toml; clients talk to its workerd directly (no `wrangler dev` proxy Worker in between)";

/** wrangler's own files, and the Miniflare it depends on rather than whatever copy the tree hoists. */
const WRANGLER_PACKAGE = createRequire(import.meta.url).resolve("wrangler/package.json");
const wranglerRequire = createRequire(WRANGLER_PACKAGE);

/**
 * The hub on one workerd process with nothing in front of it. Under `wrangler dev` every connection passes through
 * wrangler's proxy Worker, in a second workerd that holds two sockets per node: 10,000 nodes would need 20,000
 * descriptors there, the hard limit of a process on this machine. Here the same bundle, bindings and migrations run
 * under wrangler's own Miniflare (`unstable_getMiniflareWorkerOptions` reads wrangler.toml exactly as `wrangler dev`
 * does), and its workerd listens on the port clients use: one descriptor per node.
 */
export class DirectHub {
  readonly api: HubApi;

  private constructor(
    private readonly mf: MiniflareType,
    readonly url: string,
    readonly adminKey: string,
  ) {
    this.api = new HubApi(url, adminKey);
  }

  /** `inspectorPort` opens workerd's inspector (CPU profiles of the hub's isolate); off by default. */
  static async start(dirs: TempDirs, inspectorPort?: number): Promise<DirectHub> {
    const dir = dirs.make("cortex-direct-hub-");
    const outdir = join(dir, "bundle");
    // The deploy build: runs the [build] step (web/dist) and bundles worker/index.ts as Cloudflare would receive it.
    await promisify(execFile)(process.execPath, [join(dirname(WRANGLER_PACKAGE), "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", outdir], {
      cwd: REPO_ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      maxBuffer: 16 * 1024 * 1024,
    });
    const adminKey = `cx_test_${randomBytes(24).toString("hex")}`;
    const envFile = join(dir, "hub.env");
    const env = { CORTEX_ADMIN_KEY: adminKey, CORTEX_ENCRYPTION_KEY: randomBytes(32).toString("base64") };
    writeFileSync(envFile, Object.entries(env).map(([name, value]) => `${name}=${value}\n`).join(""), { mode: 0o600 });

    const wrangler = (await import(wranglerRequire.resolve("wrangler"))) as typeof import("wrangler");
    const { Miniflare } = (await import(wranglerRequire.resolve("miniflare"))) as typeof import("miniflare");
    // `envFiles` is what `wrangler dev --env-file` passes; it keeps a developer's .dev.vars out of the bench hub.
    const options: Parameters<typeof wrangler.unstable_getMiniflareWorkerOptions>[2] & { envFiles: string[] } = { envFiles: [envFile] };
    const { workerOptions } = wrangler.unstable_getMiniflareWorkerOptions(join(REPO_ROOT, "wrangler.toml"), undefined, options);
    const port = await freePort();
    const mf = new Miniflare({
      ...workerOptions,
      name: "cortex-hub",
      modules: true,
      modulesRoot: outdir,
      scriptPath: join(outdir, "index.js"),
      host: "127.0.0.1",
      port,
      defaultPersistRoot: join(dir, "state"),
      inspectorPort,
      // The hub's own log lines would otherwise go to the bench's terminal, thousands of them at this scale.
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        stdout.resume();
        stderr.resume();
      },
    });
    const url = (await mf.ready).origin;
    const hub = new DirectHub(mf, url, adminKey);
    const health = await fetch(`${url}/healthz`);
    if (!health.ok) throw new Error(`the direct hub answered /healthz with ${health.status}`);
    return hub;
  }

  get endpoint(): string {
    return `${this.url.replace(/^http/, "ws")}/api/sites/default/connect`;
  }

  /** The workerd process that runs the Worker and its Durable Objects (Miniflare starts it under this process). */
  get workerdPid(): number {
    const pid = processTree(process.pid).find((p) => /\bworkerd serve\b/.test(commandLineOf(p)));
    if (pid === undefined) throw new Error("no workerd process under this one");
    return pid;
  }

  stop(): Promise<void> {
    return this.mf.dispose();
  }
}
