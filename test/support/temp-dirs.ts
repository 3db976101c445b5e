import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedTempRoot } from "./action-user.ts";

/** Temporary folders created by a test file, removed together when it ends. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = "cortex-e2e-"): string {
    return this.makeUnder(tmpdir(), prefix);
  }

  /** A folder other users (an agent's action user) may pass through, in a place they can reach. */
  makeOpen(prefix: string): string {
    const dir = this.makeUnder(sharedTempRoot(), prefix);
    chmodSync(dir, 0o755);
    return dir;
  }

  makeUnder(parent: string, prefix: string): string {
    mkdirSync(parent, { recursive: true });
    const dir = mkdtempSync(join(parent, prefix));
    this.dirs.push(dir);
    return dir;
  }

  removeAll(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}
