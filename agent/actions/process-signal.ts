import { setTimeout as sleep } from "node:timers/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { sanitizeCommandLine } from "../host/command-line.ts";
import { table, writeJson } from "../host/compact-output.ts";
import { compilePattern } from "../host/process-pattern.ts";
import { ancestorsOf, readProcesses, requireLinux, startTicksOf, type ProcessInfo } from "../host/procfs.ts";
import { KERNEL_THREAD, protectionOf } from "../host/protected-processes.ts";
import { userNames } from "../host/users.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { signalAs } from "../privilege/act-as.ts";
import type { TrackedProcesses } from "../processes/tracked-processes.ts";
import { isAlive } from "./process-group.ts";

type Hands = Pick<TrackedProcesses, "spawn" | "switched">;

const POLL_MS = 50;
const MAX_PROTECTED_SHOWN = 50;

const SIGNALS = { kill: "SIGTERM", stop: "SIGSTOP", continue: "SIGCONT" } as const;

interface Target {
  info: ProcessInfo;
  command: string;
}

/** Whether the PID still names the process that was matched, not one that reused its number since. */
async function stillSame(target: Target): Promise<boolean> {
  return (await startTicksOf(target.info.pid)) === target.info.startTicks;
}

/** Sent with the action user's rights: at a lower tier, the kernel refuses what that user may not signal. */
async function send(hands: Hands, target: Target, signal: NodeJS.Signals): Promise<string | null> {
  if (!(await stillSame(target))) return "already gone";
  const code = await signalAs(hands, target.info.pid, signal);
  if (code === null) return null;
  return code === "ESRCH" ? "already gone" : code === "EPERM" ? "not permitted" : `failed: ${code}`;
}

/** SIGTERM to all, then, after the grace, SIGKILL to whatever still runs; the outcome for each PID. */
async function kill(hands: Hands, targets: Target[], graceMs: number, signal: AbortSignal): Promise<Map<number, string>> {
  const outcome = new Map<number, string>();
  for (const target of targets) {
    const problem = await send(hands, target, "SIGTERM");
    if (problem) outcome.set(target.info.pid, problem);
  }
  const running = () => targets.filter((t) => !outcome.has(t.info.pid) && isAlive(t.info.pid));
  const deadline = Date.now() + graceMs;
  while (running().length > 0 && Date.now() < deadline) await sleep(POLL_MS, undefined, { signal });
  for (const target of targets) {
    if (outcome.has(target.info.pid)) continue;
    if (!isAlive(target.info.pid) || !(await stillSame(target))) {
      outcome.set(target.info.pid, "ended after SIGTERM");
      continue;
    }
    const problem = await send(hands, target, "SIGKILL");
    outcome.set(target.info.pid, problem ?? "killed with SIGKILL (still running after SIGTERM)");
  }
  return outcome;
}

async function signalAll(hands: Hands, targets: Target[], signal: NodeJS.Signals): Promise<Map<number, string>> {
  const outcome = new Map<number, string>();
  const done = signal === "SIGSTOP" ? "stopped" : "continued";
  for (const target of targets) outcome.set(target.info.pid, (await send(hands, target, signal)) ?? done);
  return outcome;
}

/**
 * Signals the processes whose name (or, on request, command line as shown by `process.list`) matches an RE2
 * pattern. Protected processes are never signalled; more matches than `maxProcesses` and none is; a PID is checked
 * to still be the matched process right before each signal.
 */
export async function processSignal(params: ActionParams<"process.signal">, ctx: ActionContext): Promise<ActionOutcome> {
  requireLinux("signalling processes");
  const matches = compilePattern(params.pattern);
  const [all, agentChain, user] = await Promise.all([readProcesses(), ancestorsOf(process.pid), userNames()]);
  const targets: Target[] = [];
  const protectedRows: unknown[][] = [];
  let zombies = 0;
  let kernelThreads = 0;
  for (const info of all.sort((a, b) => a.pid - b.pid)) {
    const command = info.argv.length ? sanitizeCommandLine(info.argv) : `[${info.name}]`;
    if (!matches(params.matchFullCommand ? command : info.name)) continue;
    const reason = protectionOf(info, { tier: ctx.host.tier, agentChain });
    if (reason === KERNEL_THREAD) kernelThreads++;
    else if (reason) protectedRows.push([info.pid, info.name, reason]);
    else if (info.state === "Z") zombies++;
    else targets.push({ info, command });
  }
  const summary = {
    pattern: params.pattern,
    matchedBy: params.matchFullCommand ? "command line" : "name",
    operation: params.operation,
    ...(zombies > 0 && { zombiesSkipped: zombies }),
    ...(kernelThreads > 0 && { kernelThreadsProtected: kernelThreads }),
    protected: table(["pid", "name", "why"], protectedRows.slice(0, MAX_PROTECTED_SHOWN)),
    ...(protectedRows.length > MAX_PROTECTED_SHOWN && { protectedShown: `${MAX_PROTECTED_SHOWN} of ${protectedRows.length}` }),
  };
  const candidates = table(
    ["pid", "user", "name", "command"],
    targets.map((t) => [t.info.pid, user(t.info.uid), t.info.name, t.command]),
  );

  if (targets.length === 0) {
    writeJson(ctx.out, summary);
    if (protectedRows.length + kernelThreads > 0) return { failure: { errorCode: "protected", message: `every process matching ${JSON.stringify(params.pattern)} is protected; nothing was signalled` } };
    return { failure: { errorCode: "not_found", message: `no running process matches ${JSON.stringify(params.pattern)}` } };
  }
  const tooMany = targets.length > params.maxProcesses;
  const shown = { ...candidates, rows: candidates.rows.slice(0, params.maxProcesses) };
  if (params.dryRun) {
    writeJson(ctx.out, {
      ...summary,
      dryRun: true,
      wouldSignal: shown,
      ...(tooMany && { refusedBecause: `${targets.length} processes match, more than maxProcesses (${params.maxProcesses})` }),
    });
    return {};
  }
  if (tooMany) {
    writeJson(ctx.out, { ...summary, matching: shown });
    return {
      failure: {
        errorCode: "conflict",
        message: `${targets.length} processes match ${JSON.stringify(params.pattern)}, more than maxProcesses (${params.maxProcesses}); nothing was signalled`,
      },
    };
  }

  const outcome = params.operation === "kill" ? await kill(ctx.processes, targets, params.graceSeconds * 1000, ctx.signal) : await signalAll(ctx.processes, targets, SIGNALS[params.operation]);
  const results = targets.map((t) => [t.info.pid, user(t.info.uid), t.info.name, outcome.get(t.info.pid)]);
  writeJson(ctx.out, { ...summary, results: table(["pid", "user", "name", "result"], results) });
  const refused = results.filter((row) => row[3] === "not permitted").length;
  if (refused === targets.length) return { failure: { errorCode: "exec_failed", message: "the operating system did not permit signalling any of the matching processes" } };
  return {};
}
