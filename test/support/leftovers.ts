import { execFileSync } from "node:child_process";

/** Pids of processes whose command line contains `marker` (a unique string the test put in the command). */
export function pidsMatching(marker: string): number[] {
  try {
    const out = execFileSync("pgrep", ["-f", marker], { encoding: "utf8" });
    return out.split("\n").filter(Boolean).map(Number).filter((pid) => pid !== process.pid);
  } catch {
    // pgrep exits 1 when nothing matches.
    return [];
  }
}

/** Kills what a test left running on purpose or by failure (orphaned remote commands, long runs). */
export function killMatching(marker: string): void {
  for (const pid of pidsMatching(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}
