import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { ActionParams } from "../../protocol/directives.ts";
import { sanitizeCommandLine } from "../host/command-line.ts";
import { table, writeJson } from "../host/compact-output.ts";
import { compilePattern } from "../host/process-pattern.ts";
import { bootTimeMs, CLOCK_TICKS, readProcesses, requireLinux, type ProcessInfo } from "../host/procfs.ts";
import { userNames } from "../host/users.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";

/** CPU use is measured over this window, as `top` does, rather than averaged over each process's whole life. */
const SAMPLE_MS = 500;

const STATES: Record<string, string> = { R: "running", S: "sleeping", D: "disk-wait", Z: "zombie", T: "stopped", t: "traced", I: "idle", X: "dead" };

/** What `ps` shows as the command: the arguments, or the kernel's name in brackets when there are none. */
function commandOf(info: ProcessInfo): string {
  return info.argv.length ? sanitizeCommandLine(info.argv) : `[${info.name}]`;
}

export async function processList(params: ActionParams<"process.list">, ctx: ActionContext): Promise<ActionOutcome> {
  requireLinux("listing processes");
  // Matched against what would be shown, so a filter cannot probe a masked secret one guess at a time.
  const matches = params.filter === undefined ? () => true : compilePattern(params.filter, { caseInsensitive: true });
  const first = new Map((await readProcesses()).map((p) => [p.pid, p]));
  await sleep(SAMPLE_MS, undefined, { signal: ctx.signal });
  const [now, user, bootMs] = await Promise.all([readProcesses(), userNames(), bootTimeMs()]);
  const totalKb = os.totalmem() / 1024;

  const rows = now.map((info) => {
    const before = first.get(info.pid);
    const sameProcess = before?.startTicks === info.startTicks;
    const cpu = sameProcess ? ((info.cpuTicks - before.cpuTicks) / CLOCK_TICKS / (SAMPLE_MS / 1000)) * 100 : 0;
    return { info, command: commandOf(info), cpu: Math.round(cpu * 10) / 10 };
  });
  const matched = rows.filter((row) => matches(row.info.name) || matches(row.command));
  matched.sort((a, b) => (params.sortBy === "cpu" ? b.cpu - a.cpu || b.info.rssKb - a.info.rssKb : b.info.rssKb - a.info.rssKb || b.cpu - a.cpu));
  const shown = matched.slice(0, params.limit);

  const count = (state: string) => now.filter((p) => p.state === state).length;
  writeJson(ctx.out, {
    total: now.length,
    running: count("R"),
    zombies: count("Z"),
    ...(params.filter !== undefined && { matched: matched.length }),
    sortedBy: params.sortBy,
    shown: shown.length,
    processes: table(
      ["pid", "ppid", "user", "cpu%", "mem%", "rssMb", "state", "started", "name", "command"],
      shown.map(({ info, command, cpu }) => [
        info.pid,
        info.ppid,
        user(info.uid),
        cpu,
        Math.round((info.rssKb / totalKb) * 1000) / 10,
        Math.round(info.rssKb / 102.4) / 10,
        STATES[info.state] ?? info.state,
        new Date(bootMs + (info.startTicks / CLOCK_TICKS) * 1000).toISOString().slice(0, 19) + "Z",
        info.name,
        command,
      ]),
    ),
  });
  return {};
}
