import type { ActionParams } from "../../protocol/directives.ts";
import { fullUnitName } from "../../protocol/machine-actions.ts";
import { table, toMb, writeJson } from "../host/compact-output.ts";
import { programFailure, runProgram } from "../host/programs.ts";
import { parseShow, requireSystemd } from "../host/systemd.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { ActionError } from "./action-error.ts";

const PROPERTIES = [
  "Id",
  "Description",
  "LoadState",
  "ActiveState",
  "SubState",
  "UnitFileState",
  "MainPID",
  "StateChangeTimestamp",
  "NRestarts",
  "Result",
  "ExecMainCode",
  "ExecMainStatus",
  "MemoryCurrent",
  "CPUUsageNSec",
  "TasksCurrent",
];
const MAX_FAILED = 100;

/** systemd prints "[not set]" or 2^64-1 for a counter it does not track. */
function counter(value: string | undefined): number | null {
  if (value === undefined || value === "" || value === "[not set]" || value === "18446744073709551615") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** The state of one unit, as the model needs it: `systemctl show` with unset fields left out. */
export async function unitState(ctx: ActionContext, unit: string): Promise<Record<string, unknown>> {
  const result = await runProgram(ctx, "systemctl", ["show", "--no-pager", `--property=${PROPERTIES.join(",")}`, "--", unit]);
  if (result.code !== 0) throw new ActionError("exec_failed", programFailure("systemctl", result));
  const show = parseShow(result.stdout);
  if (show.get("LoadState") === "not-found") throw new ActionError("not_found", `unit ${unit} is not installed on this machine`);
  const memory = counter(show.get("MemoryCurrent"));
  const cpuNs = counter(show.get("CPUUsageNSec"));
  const mainPid = counter(show.get("MainPID"));
  const state: Record<string, unknown> = {
    unit: show.get("Id") ?? unit,
    description: show.get("Description") || null,
    load: show.get("LoadState"),
    active: show.get("ActiveState"),
    sub: show.get("SubState"),
    enabled: show.get("UnitFileState") || null,
    since: show.get("StateChangeTimestamp") || null,
    mainPid: mainPid || null,
    restarts: counter(show.get("NRestarts")),
    result: show.get("Result") || null,
    memoryMb: memory === null ? null : toMb(memory),
    cpuSeconds: cpuNs === null ? null : Math.round(cpuNs / 1e7) / 100,
    tasks: counter(show.get("TasksCurrent")),
  };
  // The main process's exit, when it has exited: code 0 with status 0 means it has not, or ended cleanly.
  const exitStatus = counter(show.get("ExecMainStatus"));
  if (exitStatus) state.lastExit = { code: show.get("ExecMainCode"), status: exitStatus };
  return Object.fromEntries(Object.entries(state).filter(([, v]) => v !== null && v !== undefined));
}

/** The system's state (running, degraded, ...) and its failed units. */
async function overview(ctx: ActionContext): Promise<Record<string, unknown>> {
  // is-system-running exits non-zero for every state but "running"; its answer is the output either way.
  const system = await runProgram(ctx, "systemctl", ["is-system-running"]);
  const failed = await runProgram(ctx, "systemctl", ["list-units", "--state=failed", "--no-legend", "--plain", "--no-pager", "--full"]);
  if (failed.code !== 0) throw new ActionError("exec_failed", programFailure("systemctl", failed));
  const rows = failed.stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 4)
    .map(([unit, load, active, sub, ...description]) => [unit, load, active, sub, description.join(" ")]);
  return {
    system: system.stdout.trim() || null,
    failedUnits: table(["unit", "load", "active", "sub", "description"], rows.slice(0, MAX_FAILED)),
    ...(rows.length > MAX_FAILED && { failedShown: `${MAX_FAILED} of ${rows.length}` }),
  };
}

export async function serviceStatus(params: ActionParams<"service.status">, ctx: ActionContext): Promise<ActionOutcome> {
  await requireSystemd("checking services");
  writeJson(ctx.out, params.unit === undefined ? await overview(ctx) : await unitState(ctx, fullUnitName(params.unit)));
  return {};
}
