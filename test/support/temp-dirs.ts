import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Temporary folders created by a test file, removed together when it ends. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(prefix = "cortex-e2e-"): string {
    return this.makeUnder(tmpdir(), prefix);
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
