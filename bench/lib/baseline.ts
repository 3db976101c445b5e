import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../../test/support/test-hub.ts";

export interface Baseline {
  pid: number;
  httpUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/** Starts the bare `ws` baseline server in its own process, as the hub runs in its own. */
export function startBaseline(): Promise<Baseline> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "bench", "lib", "baseline-server.ts")], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the baseline server exited with ${code}`)));
    child.stdout!.setEncoding("utf8").once("data", (text: string) => {
      const port = Number(text.trim());
      resolve({
        pid: child.pid!,
        httpUrl: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}`,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.removeAllListeners("exit");
            child.once("exit", () => done());
            child.kill("SIGKILL");
          }),
      });
    });
  });
}
