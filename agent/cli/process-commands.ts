import type { Command } from "commander";
import * as z from "zod";
import {
  ProcessActionResponse,
  ProcessListResponse,
  ProcessLogsResponse,
  ProcessPatch,
  ProcessSpec,
  ProcessView,
  type ProcessOperation,
  type ProcessStatus,
} from "../../protocol/processes.ts";
import { revealControls } from "../../protocol/hidden-characters.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import { asBlock, bytes, duration, json, table, when } from "./format.ts";
import { nodeId, positiveInt } from "./option-parsers.ts";
import { addProcessOptions, fieldsOf, processName, readJsonFile, type ProcessFlags } from "./process-options.ts";

const HELP = `
A machine's supervised processes are kept running by its agent: started as their launch mode says (always, on a
schedule in the machine's time zone, or off), relaunched with backoff after a crash until too many attempts fall
within the restart window, stopped with their stop signal and SIGKILL after the grace period. Their output goes
to a rotated log on the machine. The hub keeps each machine's list and sends it to the agent.

Examples:
  cortex process add web-1 api --cwd /srv/api --env PORT=8080 -- /usr/bin/node server.js
  cortex process add web-1 kiosk --schedule "mon-fri 08:00-18:00" -- /opt/kiosk/run
  cortex process edit web-1 api --max-restarts 10
  cortex process list web-1
  cortex process restart web-1 api
  cortex process logs web-1 api --lines 50
`;

function statusCells(s: ProcessStatus | null, now: number): string[] {
  if (!s) return ["(no report)", "", "", "", "", "", ""];
  const exit = s.lastExit ? `${s.lastExit.kind.replace("_", " ")} ${s.lastExit.signal ?? (s.lastExit.code === null ? "?" : s.lastExit.code)}` : "";
  return [
    s.held ? `${s.state} (held)` : s.state,
    s.pid === null ? "" : String(s.pid),
    s.startedAt === null ? "" : duration(now - s.startedAt),
    String(s.restarts),
    exit,
    s.cpuPercent === null ? "" : `${s.cpuPercent}%`,
    s.memoryBytes === null ? "" : bytes(s.memoryBytes),
  ];
}

function commandLine(spec: ProcessSpec): string {
  const text = spec.shell ? `sh -c ${JSON.stringify(spec.command)}` : [spec.command, ...spec.args].join(" ");
  return text.length > 48 ? `${text.slice(0, 47)}…` : text;
}

function listText(r: ProcessListResponse): string {
  if (!r.processes.length) return `No supervised processes on ${r.nodeId}.\n`;
  const now = Date.now();
  const rows = r.processes.map((p) => [p.name, ...statusCells(p.status, now), p.spec.launchMode, commandLine(p.spec)]);
  const sync =
    r.appliedVersion === r.configVersion
      ? `the agent runs this list (reported ${when(r.reportedAt)})`
      : r.appliedVersion === null
        ? "the agent has not reported this list yet"
        : "the agent has not applied the latest change yet";
  const notes = [`${r.nodeId}: ${sync}${r.timeZone ? `; schedules in ${r.timeZone}` : ""}`];
  if (r.redacted) notes.push("arguments and environment values are redacted for readers who may only read");
  for (const p of r.processes) if (p.status?.reason) notes.push(`${p.name}: ${p.status.reason}`);
  // A status reason is the agent's text.
  return table(["name", "state", "pid", "uptime", "restarts", "last exit", "cpu", "memory", "launch", "command"], rows) + notes.map((n) => `${revealControls(n)}\n`).join("");
}

function specFrom(name: string, flags: ProcessFlags, words: string[], cwd: string): ProcessSpec {
  const input = flags.file ? { ...(readJsonFile(flags.file, cwd) as object), name } : { name, ...fieldsOf(flags, words) };
  const parsed = ProcessSpec.safeParse(input);
  if (!parsed.success) throw new CliError(`invalid process: ${issuesLine(parsed.error)}`);
  return parsed.data;
}

/** Turns start/stop/restart answers into output and an exit code; the message is the agent's text. */
function reportAction(cli: CliContext, answer: ProcessActionResponse, asJson: boolean | undefined): number {
  if (asJson) cli.out(json(answer));
  else if (answer.ok) cli.out(asBlock(revealControls(answer.message)));
  if (answer.ok) return 0;
  cli.err(`error: ${answer.name}: ${revealControls(answer.message)}\n`);
  return 1;
}

export function addProcessCommands(program: Command, cli: CliContext): void {
  const process = program.command("process").description("processes the agents keep running: add, list, start, stop, logs").addHelpText("after", HELP);

  process
    .command("list")
    .description("a machine's supervised processes with their state, PID, uptime, restarts, last exit, CPU and memory")
    .argument("<node>", "node id", nodeId)
    .option("--json", "print the list as JSON")
    .action(
      cli.action(async (node: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const r = await client.request("GET", client.sitePath("nodes", node, "processes"), ProcessListResponse);
        cli.out(options.json ? json(r) : listText(r));
      }),
    );

  addProcessOptions(
    process
      .command("add")
      .description("add a process for the machine's agent to keep running")
      .argument("<node>", "node id", nodeId)
      .argument("<name>", "a unique name: lowercase letters, digits, '.', '_' or '-'", processName)
      .argument("[command...]", "the program and its arguments, after `--`")
      .option("--json", "print the new process as JSON"),
  ).action(
    cli.action(async (node: string, name: string, words: string[], flags: ProcessFlags, command: Command) => {
      if (!flags.file && words.length === 0) throw new CliError("no command: give the program and its arguments after `--`, or --file");
      const client = cli.client(command);
      const body = specFrom(name, flags, words, cli.io.cwd);
      const view = await client.request("POST", client.sitePath("nodes", node, "processes"), ProcessView, { body });
      cli.out(flags.json ? json(view) : `Added ${view.name} on ${node} (${view.spec.launchMode}); the agent starts it when its launch mode says so.\n`);
    }),
  );

  addProcessOptions(
    process
      .command("edit")
      .description("change a process: only what the flags name changes (a new command goes after `--`)")
      .argument("<node>", "node id", nodeId)
      .argument("<name>", "process name", processName)
      .argument("[command...]", "a new program and its arguments, after `--`")
      .option("--default-cwd", "run in the default folder again")
      .option("--json", "print the changed process as JSON"),
  ).action(
    cli.action(async (node: string, name: string, words: string[], flags: ProcessFlags & { defaultCwd?: boolean }, command: Command) => {
      const client = cli.client(command);
      let patch: unknown;
      if (flags.file) {
        patch = readJsonFile(flags.file, cli.io.cwd);
      } else {
        // restart and log are replaced whole by the hub: start from the current ones so one flag changes one value.
        const current = (await client.request("GET", client.sitePath("nodes", node, "processes"), ProcessListResponse)).processes.find((p) => p.name === name);
        if (!current) throw new CliError(`no process ${name} on node ${node}`);
        patch = { ...fieldsOf(flags, words, current.spec), ...(flags.defaultCwd ? { cwd: null } : {}) };
      }
      const parsed = ProcessPatch.safeParse(patch);
      if (!parsed.success) throw new CliError(`invalid change: ${issuesLine(parsed.error)}`);
      const view = await client.request("PATCH", client.sitePath("nodes", node, "processes", name), ProcessView, { body: patch });
      cli.out(flags.json ? json(view) : `Changed ${name} on ${node} (${Object.keys(parsed.data).join(", ")}).\n`);
    }),
  );

  process
    .command("remove")
    .description("remove a process: its agent stops it and no longer keeps it running")
    .argument("<node>", "node id", nodeId)
    .argument("<name>", "process name", processName)
    .option("--json", "print the answer as JSON")
    .action(
      cli.action(async (node: string, name: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const r = await client.request("DELETE", client.sitePath("nodes", node, "processes", name), z.object({ name: z.string(), removed: z.literal(true) }));
        cli.out(options.json ? json(r) : `Removed ${name} from ${node}.\n`);
      }),
    );

  const operations: [ProcessOperation, string][] = [
    ["start", "start a process now and keep it running until stopped, whatever its launch mode says"],
    ["stop", "stop a process and keep it stopped until started again"],
    ["restart", "stop a process and start it again at once (also after it gave up)"],
  ];
  for (const [operation, description] of operations) {
    process
      .command(operation)
      .description(description)
      .argument("<node>", "node id", nodeId)
      .argument("<name>", "process name", processName)
      .option("--json", "print the answer as JSON")
      .action(
        cli.action(async (node: string, name: string, options: JsonOption, command: Command) => {
          const client = cli.client(command);
          const answer = await client.request("POST", client.sitePath("nodes", node, "processes", name, operation), ProcessActionResponse);
          return reportAction(cli, answer, options.json);
        }),
      );
  }

  process
    .command("logs")
    .description("the last lines a process wrote (stdout and stderr), from its log on the machine")
    .argument("<node>", "node id", nodeId)
    .argument("<name>", "process name", processName)
    .option("--lines <n>", "how many lines (default 200, at most 5000)", positiveInt)
    .option("--json", "print the answer as JSON")
    .action(
      cli.action(async (node: string, name: string, options: JsonOption & { lines?: number }, command: Command) => {
        const client = cli.client(command);
        const r = await client.request("POST", client.sitePath("nodes", node, "processes", name, "logs"), ProcessLogsResponse, { query: { lines: options.lines } });
        cli.out(options.json ? json(r) : asBlock(r.text));
      }),
    );
}
