import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../agent/cli/program.ts";
import { sharedTempRoot, testRunAs } from "../support/action-user.ts";

export const REPO = join(import.meta.dirname, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A home and working directory of their own, so no real config file or .dev.vars leaks into a test. */
export function emptyDir(): string {
  return mkdtempSync(join(tmpdir(), "cortex-cli-"));
}

const agentFolders: string[] = [];

/** Removes the sandbox folders `agentSetup` made. */
export function removeAgentSetups(): void {
  for (const dir of agentFolders.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * What `cortex node connect` at the default tier (unprivileged) needs in this test run: a sandbox path its action
 * user can reach (the agent creates it) and, when the test runs as root, the user to run actions as.
 */
export function agentSetup(): { args: string[]; env: Record<string, string> } {
  const parent = mkdtempSync(join(sharedTempRoot(), "cortex-cli-"));
  agentFolders.push(parent);
  chmodSync(parent, 0o755);
  const runAs = testRunAs();
  return { args: ["--sandbox", join(parent, "sandbox")], env: runAs ? { CORTEX_RUN_AS: runAs } : {} };
}

/** Runs the CLI in-process with only the given environment. */
export async function runCli(argv: string[], options: { env?: Record<string, string>; cwd?: string; home?: string } = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, {
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    env: options.env ?? {},
    cwd: options.cwd ?? emptyDir(),
    homedir: options.home ?? emptyDir(),
    onInterrupt: () => () => undefined,
  });
  return { code, stdout, stderr };
}

/** Starts the real binary the way a user does, with a clean environment. */
export function spawnCli(argv: string[], env: Record<string, string> = {}): ChildProcess & { result: Promise<CliResult> } {
  const child = spawn(process.execPath, [join(REPO, "bin", "cortex.mjs"), ...argv], {
    cwd: emptyDir(),
    env: { PATH: process.env.PATH ?? "", HOME: emptyDir(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const result = new Promise<CliResult>((resolve) => child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr })));
  return Object.assign(child, { result });
}
