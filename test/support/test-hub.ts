import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startDevHub, type DevHub } from "../../scripts/dev/wrangler-dev.ts";
import { freePort } from "./free-port.ts";
import { HubApi } from "./hub-api.ts";
import type { TempDirs } from "./temp-dirs.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "..", "..");

/** wrangler's output is kept (last part only) to explain a failure, not printed into the test report. */
const MAX_LOG_CHARS = 64 * 1024;

/**
 * A real hub under `wrangler dev` on a free loopback port, with its own state folder and its own secrets in an env
 * file: it never reads the developer's `.dev.vars` or `.wrangler/state`. It can be stopped and started again on the
 * same port and state, which is what a hub restart looks like to agents.
 */
export class TestHub {
  readonly adminKey = `cx_test_${randomBytes(24).toString("hex")}`;
  readonly api: HubApi;
  readonly url: string;
  readonly persistDir: string;
  private readonly envFile: string;
  private dev: DevHub | null = null;
  private log = "";

  private constructor(
    readonly port: number,
    dir: string,
    vars: Record<string, string>,
    private readonly inspectorPort?: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.persistDir = join(dir, "state");
    this.envFile = join(dir, "hub.env");
    // The mock LLM server listens on loopback, so test hubs let AI keys name a private base URL.
    const env = { CORTEX_ADMIN_KEY: this.adminKey, CORTEX_ENCRYPTION_KEY: randomBytes(32).toString("base64"), CORTEX_ALLOW_PRIVATE_LLM_URLS: "1", ...vars };
    writeFileSync(this.envFile, Object.entries(env).map(([name, value]) => `${name}=${value}\n`).join(""), { mode: 0o600 });
    this.api = new HubApi(this.url, this.adminKey);
  }

  /**
   * `vars` are added to the hub's environment (CORTEX_ALLOW_LOOPBACK_WEBHOOKS, ...); `inspectorPort` opens wrangler's
   * DevTools inspector there, for CPU profiles of the hub.
   */
  static async start(dirs: TempDirs, vars: Record<string, string> = {}, inspectorPort?: number): Promise<TestHub> {
    const hub = new TestHub(await freePort(), dirs.make("cortex-hub-"), vars, inspectorPort);
    await hub.start();
    return hub;
  }

  /** The agent's --endpoint for the default site. */
  get endpoint(): string {
    return `ws://127.0.0.1:${this.port}/api/sites/default/connect`;
  }

  get process() {
    return this.dev?.process ?? null;
  }

  get output(): string {
    return this.log;
  }

  async start(): Promise<void> {
    if (this.dev) throw new Error("the hub is already running");
    try {
      this.dev = await startDevHub({
        cwd: REPO_ROOT,
        port: this.port,
        host: "127.0.0.1",
        persistTo: this.persistDir,
        envFile: this.envFile,
        readyTimeoutMs: 120_000,
        ...(this.inspectorPort === undefined ? {} : { inspectorPort: this.inspectorPort }),
        onOutput: (text) => {
          this.log = (this.log + text).slice(-MAX_LOG_CHARS);
        },
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\nwrangler output:\n${this.log}`);
    }
  }

  async stop(): Promise<void> {
    const dev = this.dev;
    this.dev = null;
    await dev?.stop();
  }
}
