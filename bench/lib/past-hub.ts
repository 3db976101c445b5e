import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startDevHub, type DevHub } from "../../scripts/dev/wrangler-dev.ts";
import { freePort } from "../../test/support/free-port.ts";
import { REPO_ROOT } from "../../test/support/test-hub.ts";
import type { TempDirs } from "../../test/support/temp-dirs.ts";

/**
 * The hub as it was at an earlier commit, under `wrangler dev` beside the current one: the baseline for a change
 * that cannot be switched off (the shape of the auth path). Its files come from `git archive` of that commit; the
 * packages are this checkout's (the earlier ones are a subset). Needs the repository's history, as a checkout has.
 */
export interface PastHub {
  url: string;
  adminKey: string;
  stop(): Promise<void>;
}

export async function startPastHub(rev: string, dirs: TempDirs): Promise<PastHub> {
  const dir = dirs.make("cortex-past-hub-");
  const tree = join(dir, "tree");
  mkdirSync(tree);
  const archive = execFileSync("git", ["-C", REPO_ROOT, "archive", "--format=tar", rev], { maxBuffer: 256 * 1024 * 1024 });
  execFileSync("tar", ["-x", "-C", tree], { input: archive });
  symlinkSync(join(REPO_ROOT, "node_modules"), join(tree, "node_modules"), "dir");
  const adminKey = `cx_past_${randomBytes(24).toString("hex")}`;
  const envFile = join(dir, "hub.env");
  writeFileSync(envFile, `CORTEX_ADMIN_KEY=${adminKey}\n`, { mode: 0o600 });
  let log = "";
  let dev: DevHub;
  try {
    dev = await startDevHub({
      cwd: tree,
      port: await freePort(),
      host: "127.0.0.1",
      persistTo: join(dir, "state"),
      envFile,
      readyTimeoutMs: 120_000,
      onOutput: (text) => {
        log = (log + text).slice(-16 * 1024);
      },
    });
  } catch (error) {
    throw new Error(`the hub at ${rev} did not start: ${(error as Error).message}\n${log}`);
  }
  return { url: dev.url, adminKey, stop: () => dev.stop() };
}
