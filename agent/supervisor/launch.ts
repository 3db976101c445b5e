import { spawn, type ChildProcess } from "node:child_process";
import { closeSync } from "node:fs";
import { stat } from "node:fs/promises";
import type { ProcessSpec } from "../../protocol/processes.ts";
import { defaultProcessCwd, evaluateProcess } from "../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../protocol/tiers.ts";
import { actionEnvironment } from "../privilege/action-environment.ts";
import type { ActionUser } from "../privilege/action-user.ts";
import { actionCommand } from "../privilege/spawn-as.ts";
import { createCgroup, removeCgroup } from "../processes/cgroup.ts";
import type { ProcessTracking } from "../processes/tracked-processes.ts";
import { INSTANCE_VARIABLE } from "./proc-info.ts";
import { resolveRealPath } from "../sandbox/real-path.ts";
import { openLogForProcess, rotateIfFull } from "./process-log.ts";

export interface LaunchContext {
  tier: CapabilityTier;
  sandboxRoot: string;
  logDir: string;
  /** Who processes run as: the node's action user, as every action of the node. */
  user: ActionUser;
}

/** What the supervisor starts: the program and its arguments, where, with what environment. */
export interface LaunchPlan {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
}

export type Admission = { ok: true; plan: LaunchPlan } | { ok: false; refused: boolean; reason: string };

/**
 * The environment a process starts with: the action user's own (HOME, USER, LOGNAME, SHELL, PATH, and the locale and
 * time zone the agent has), as every action gets it, and the configured variables on top. Nothing else of the
 * agent's environment is passed on, so no token or key the agent was started with can reach a supervised program.
 */
function environment(spec: ProcessSpec, user: ActionUser): Record<string, string> {
  return { ...(actionEnvironment(user) as Record<string, string>), ...spec.env };
}

/**
 * Checks a process against the tier twice, as the hub wrote it and with every symlink resolved, and works out what to
 * start: the resolved program and folder at tier unprivileged, so that what was checked is what runs.
 */
export async function admit(spec: ProcessSpec, ctx: LaunchContext): Promise<Admission> {
  const options = { sandboxRoot: ctx.sandboxRoot };
  const cwd = spec.cwd ?? defaultProcessCwd(ctx.tier, options);
  const realCwd = await resolveRealPath(cwd);
  const realProgram = spec.command.startsWith("/") && !spec.shell ? await resolveRealPath(spec.command) : spec.command;
  const real = { ...spec, command: realProgram, cwd: realCwd };
  for (const [checked, opts] of [
    [spec, options],
    [real, { sandboxRoot: await resolveRealPath(ctx.sandboxRoot) }],
  ] as const) {
    const decision = evaluateProcess(ctx.tier, checked, opts);
    if (!decision.allowed) return { ok: false, refused: true, reason: decision.reason };
  }
  try {
    if (!(await stat(realCwd)).isDirectory()) return { ok: false, refused: false, reason: `working folder ${cwd} is not a folder` };
  } catch {
    return { ok: false, refused: false, reason: `working folder ${cwd} does not exist` };
  }
  const confined = ctx.tier === "unprivileged";
  const plan: LaunchPlan = spec.shell
    ? { file: "/bin/sh", args: ["-c", spec.command], cwd: realCwd, env: environment(spec, ctx.user) }
    : { file: confined ? realProgram : spec.command, args: spec.args, cwd: confined ? realCwd : cwd, env: environment(spec, ctx.user) };
  return { ok: true, plan };
}

export type Spawned = { ok: true; child: ChildProcess & { pid: number } } | { ok: false; reason: string };

/**
 * Starts the process in its own process group, its output appended to its log, detached from the agent so it goes on
 * running when the agent stops. It starts as the action user the way every program of an action does (setpriv sets
 * the user's ids and groups, then execs the program, which keeps the PID). Resolves once the kernel has started it,
 * or with the reason it could not.
 *
 * It starts inside `tracking` (its cgroup, else its marker in the environment), because a process group is no fence:
 * whatever the program starts with setsid leaves it, and must still be found when the instance is stopped or ends.
 */
export async function spawnProcess(name: string, spec: ProcessSpec, plan: LaunchPlan, ctx: LaunchContext, tracking: ProcessTracking): Promise<Spawned> {
  // Over before the instance's first output, which a truncation after it would take away.
  await rotateIfFull(ctx.logDir, name, spec.log);
  const fd = openLogForProcess(ctx.logDir, name);
  let child: ChildProcess;
  try {
    if (tracking.cgroup) createCgroup(tracking.cgroup);
    const { file, args } = actionCommand(ctx.user, plan.file, plan.args, tracking.cgroup);
    const env = { ...plan.env, [INSTANCE_VARIABLE]: tracking.marker };
    child = spawn(file, args, { cwd: plan.cwd, env, detached: true, stdio: ["ignore", fd, fd], windowsHide: true });
  } catch (err) {
    closeSync(fd);
    if (tracking.cgroup) removeCgroup(tracking.cgroup);
    return { ok: false, reason: (err as Error).message };
  }
  closeSync(fd);
  return new Promise((resolve) => {
    child.once("spawn", () => {
      child.unref();
      // Later errors (a signal that could not be sent) are handled where signals are sent; without a listener Node
      // would turn them into an uncaught exception that takes the agent down.
      child.on("error", () => undefined);
      resolve({ ok: true, child: child as ChildProcess & { pid: number } });
    });
    child.once("error", (err: NodeJS.ErrnoException) => {
      if (tracking.cgroup) removeCgroup(tracking.cgroup);
      resolve({ ok: false, reason: spawnFailure(plan.file, err) });
    });
  });
}

function spawnFailure(file: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case "ENOENT":
      return `program ${file} not found`;
    case "EACCES":
      return `program ${file} is not executable (permission denied)`;
    default:
      return `could not start ${file}: ${err.message}`;
  }
}
