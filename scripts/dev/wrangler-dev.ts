import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Where wrangler's own CLI lives, so it runs with this Node without going through npx. */
function wranglerBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("wrangler/package.json")), "bin", "wrangler.js");
}

export interface DevHub {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevHubOptions {
  cwd: string;
  port: number;
  host: string;
  persistTo?: string;
  /** Secrets and vars from this file instead of `.dev.vars`, so a test hub never reads the developer's own. */
  envFile?: string;
  /** Receives wrangler's output; by default it is passed through to this terminal. */
  onOutput?: (text: string) => void;
  readyTimeoutMs?: number;
  /** Where wrangler's DevTools inspector listens (for CPU profiles of the hub); wrangler picks one when unset. */
  inspectorPort?: number;
  /** Plain settings (no secrets: they show in `ps`) passed as `--var NAME:VALUE`. */
  vars?: Record<string, string>;
}

/** Starts `wrangler dev` and resolves once the hub answers its health check. */
export async function startDevHub(opts: DevHubOptions): Promise<DevHub> {
  const args = [wranglerBin(), "dev", "--port", String(opts.port), "--ip", opts.host, "--show-interactive-dev-session=false"];
  if (opts.persistTo) args.push("--persist-to", opts.persistTo);
  if (opts.envFile) args.push("--env-file", opts.envFile);
  if (opts.inspectorPort !== undefined) args.push("--inspector-port", String(opts.inspectorPort));
  for (const [name, value] of Object.entries(opts.vars ?? {})) args.push("--var", `${name}:${value}`);
  const child = spawn(process.execPath, args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
  const forward = opts.onOutput ?? ((t: string) => process.stderr.write(t));
  child.stdout!.on("data", (b: Buffer) => forward(b.toString()));
  child.stderr!.on("data", (b: Buffer) => forward(b.toString()));
  const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}`;
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`wrangler dev exited with code ${code}`))));
  exited.catch(() => undefined);
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
  for (;;) {
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`the hub did not answer ${url}/healthz within ${opts.readyTimeoutMs ?? 90_000} ms`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, 250)), exited]);
  }
  return {
    url,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}
