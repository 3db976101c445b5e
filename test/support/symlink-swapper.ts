import { spawn } from "node:child_process";

/**
 * In another process (so it truly races the agent), swaps `<dir>/swap` between a regular file and a symlink to
 * /etc/shadow, `times` times each way, by atomic renames. Resolves when it is done.
 */
export function swapSymlink(dir: string, times: number): Promise<void> {
  const script = `
    const fs = require("fs");
    const [dir, times] = [process.argv[1], Number(process.argv[2])];
    for (let i = 0; i < times; i++) {
      fs.writeFileSync(dir + "/next-file", "harmless text\\n");
      fs.renameSync(dir + "/next-file", dir + "/swap");
      try { fs.unlinkSync(dir + "/next-link"); } catch {}
      fs.symlinkSync("/etc/shadow", dir + "/next-link");
      fs.renameSync(dir + "/next-link", dir + "/swap");
    }`;
  const child = spawn(process.execPath, ["-e", script, dir, String(times)], { stdio: "ignore" });
  return new Promise((resolve) => child.once("exit", () => resolve()));
}
