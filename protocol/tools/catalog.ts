import * as z from "zod";
import { DEFAULT_BASH_TIMEOUT_MS, MAX_BASH_TIMEOUT_MS, MAX_WRITE_BYTES } from "../limits.ts";
import {
  JOURNAL_PRIORITIES,
  LOG_FILE_ROOT,
  MAX_POWER_DELAY_MINUTES,
  ProcessPattern,
  RelativeAge,
  ServiceOperation,
  UnitName,
  WallMessage,
} from "../machine-actions.ts";
import { AbsolutePath } from "../paths.ts";
import { MACHINES_LISTED } from "./hub-tools.ts";
import { agentTool, hubTool, type Tool } from "./tool.ts";

/**
 * The one tool catalog: every tool a model (in a chat, an autonomous run or, later, over MCP) can be offered. A
 * tool missing here does not exist. Agent-side tools are directive actions, so what a tool may do on a machine is
 * decided by the same hub and agent checks as any directive from the CLI, the console or the API.
 */

const BOTH = ["linux", "windows"] as const;
const LINUX = ["linux"] as const;

const Path = AbsolutePath.describe("Absolute path on the machine.");

const Power = z.strictObject({
  delayMinutes: z
    .number()
    .int()
    .min(0)
    .max(MAX_POWER_DELAY_MINUTES)
    .default(1)
    .describe("Minutes from now. 0 means at once, and then the answer may never arrive because the agent goes down with the machine."),
  message: WallMessage.optional().describe("Short note shown to people logged in on the machine."),
});

const DEFINITIONS = {
  get_system_info: agentTool({
    description:
      "Overview of the machine: host name, operating system and kernel, CPU model and cores with load average and current usage, memory and swap, filesystems with free space, GPUs (NVIDIA), uptime and the Cortex agent version. Start here when asked whether a machine is healthy.",
    input: z.strictObject({}),
    tier: 1,
    example: {},
    action: "system.info",
    platforms: BOTH,
    params: () => ({}),
  }),

  get_running_processes: agentTool({
    description:
      "Running processes as a table: PID, parent PID, user, CPU % (measured over half a second), memory %, resident memory, state, name and command line (arguments that look like passwords or tokens are masked). Sorted by CPU or memory, top `limit` rows.",
    input: z.strictObject({
      filter: ProcessPattern.optional().describe('Regular expression (RE2 syntax, case-insensitive) matched against the process name and command line, e.g. "nginx|php-fpm".'),
      sortBy: z.enum(["cpu", "memory"]).default("cpu").describe("Sort by CPU usage or by resident memory, highest first."),
      limit: z.number().int().min(1).max(500).default(25).describe("How many processes to show."),
    }),
    tier: 1,
    example: { filter: "nginx", sortBy: "memory", limit: 10 },
    action: "process.list",
    platforms: LINUX,
    params: (input) => input,
  }),

  get_disk_usage: agentTool({
    description:
      "Filesystems with size, used, free space, use % and inode use. With `path`, also the largest entries directly under that folder (on the same filesystem), to find what fills a disk.",
    input: z.strictObject({
      path: Path.optional().describe("Folder whose largest entries to list, e.g. /var."),
      top: z.number().int().min(1).max(100).default(15).describe("How many of the largest entries under `path` to show."),
    }),
    tier: 1,
    example: { path: "/var", top: 10 },
    action: "disk.usage",
    platforms: BOTH,
    params: (input) => input,
  }),

  get_network_info: agentTool({
    description:
      "Network interfaces (state, addresses, MTU), default routes, DNS servers, and the TCP and UDP ports this machine listens on with the process behind each.",
    input: z.strictObject({}),
    tier: 1,
    example: {},
    action: "network.info",
    platforms: BOTH,
    params: () => ({}),
  }),

  get_service_status: agentTool({
    description:
      "State of a systemd unit: loaded, active and sub state, enabled or not, main PID, since when, restarts, exit status, memory and CPU used. Without `unit`: the system's overall state and every failed unit.",
    input: z.strictObject({
      unit: UnitName.optional().describe('Unit name, e.g. "nginx" or "nginx.service".'),
    }),
    tier: 1,
    example: { unit: "nginx" },
    action: "service.status",
    platforms: LINUX,
    params: (input) => input,
  }),

  get_logs: agentTool({
    description: `Recent log lines, oldest first: from the systemd journal (all of it, or one unit), or the tail of a log file under ${LOG_FILE_ROOT}. Long lines are cut.`,
    input: z.strictObject({
      unit: UnitName.optional().describe("Journal of this systemd unit only. Leave out for the whole journal."),
      file: AbsolutePath.optional().describe(`A log file under ${LOG_FILE_ROOT}, e.g. ${LOG_FILE_ROOT}/nginx/error.log, instead of the journal.`),
      lines: z.number().int().min(1).max(2_000).default(100).describe("How many of the latest lines to show."),
      since: RelativeAge.optional().describe("Journal only: entries from the last 30m, 2h, 7d, ..."),
      priority: z.enum(JOURNAL_PRIORITIES).optional().describe("Journal only: this priority or more severe, e.g. err."),
    }),
    tier: 1,
    example: { unit: "nginx", lines: 50, since: "2h" },
    action: "logs.read",
    platforms: LINUX,
    params: (input) => input,
  }),

  get_agent_health: agentTool({
    description:
      "Health of the Cortex agent on the machine: version, uptime, capability tier, memory use, directives in flight, long runs, connections to the hub since it started.",
    input: z.strictObject({}),
    tier: 1,
    example: {},
    action: "agent.health",
    platforms: BOTH,
    params: () => ({}),
  }),

  get_site_logs: hubTool("site_logs", {
    description:
      "The site's activity log, newest first: machines connecting and dropping, actions run and how they ended, access changes. Answered by the hub, for the whole site or one machine.",
    tier: 1,
    example: { level: "warn", sinceMinutes: 60, limit: 20 },
  }),

  list_machines: hubTool("list_machines", {
    description:
      `The site's machines with id, name, status (connected or not), capability tier, group, operating system, agent version, last heartbeat and live metrics (CPU, memory, disk, load, GPUs): the first ${MACHINES_LISTED} by name and how many match; narrow a large site by status or group. Answered by the hub.`,
    tier: 1,
    example: { status: "online" },
  }),

  get_process_list: hubTool("process_list", {
    description:
      "The supervised processes configured on a machine (kept running by its Cortex agent): each one's command, launch mode and schedule, and its live state as the agent last reported it: running or not, PID, uptime, restarts, last exit (code or signal), CPU and memory. Answered by the hub.",
    tier: 1,
    example: { machine: "web-1" },
  }),

  get_process_logs: hubTool("process_logs", {
    description: "The latest lines a supervised process wrote (stdout and stderr together, oldest first), read from its log on the machine. Use it to see why a process crashed.",
    tier: 1,
    example: { machine: "web-1", name: "api", lines: 50 },
  }),

  start_process: hubTool("process_start", {
    description: "Start a supervised process now (no start delay). It then stays running, relaunched after crashes, until stopped, whatever its launch mode says.",
    tier: 2,
    example: { machine: "web-1", name: "api" },
  }),

  stop_process: hubTool("process_stop", {
    description: "Stop a supervised process (its stop signal, then SIGKILL after its grace period) and keep it stopped until started again, whatever its launch mode says.",
    tier: 2,
    example: { machine: "web-1", name: "api" },
  }),

  restart_process: hubTool("process_restart", {
    description: "Restart a supervised process: stop the running instance and start a new one at once. Also starts one that gave up after too many crashes.",
    tier: 2,
    example: { machine: "web-1", name: "api" },
  }),

  set_launch_mode: hubTool("process_launch_mode", {
    description: "Change when a supervised process runs: always, on a schedule (days and hours in the machine's time zone), or off (only by hand). Does not change what it runs.",
    tier: 2,
    example: { machine: "web-1", name: "api", launchMode: "scheduled", schedule: [{ days: ["mon", "tue", "wed", "thu", "fri"], start: "08:00", end: "18:00" }] },
  }),

  manage_service: agentTool({
    description:
      "Start, stop or restart a systemd service (or socket, timer, path unit). Units that keep the machine reachable or running (systemd's own, ssh, dbus, logins, the Cortex agent) are refused. Returns the unit's state afterwards.",
    input: z.strictObject({
      unit: UnitName.describe('Unit name, e.g. "nginx" or "php8.2-fpm.service".'),
      operation: ServiceOperation.describe("What to do."),
    }),
    tier: 2,
    example: { unit: "nginx", operation: "restart" },
    action: "service.manage",
    platforms: LINUX,
    params: (input) => input,
  }),

  signal_processes: agentTool({
    description:
      "Kill, stop (pause) or continue processes whose name matches a pattern. kill sends SIGTERM, then SIGKILL to what still runs after the grace period. Never touches init, systemd, sshd, dbus, kernel threads or the Cortex agent and its parents, and refuses when more processes match than maxProcesses. Use dryRun first when unsure.",
    input: z.strictObject({
      pattern: ProcessPattern.describe('Regular expression (RE2 syntax) matched against the process name, e.g. "^python3$".'),
      operation: z.enum(["kill", "stop", "continue"]).describe("kill: end the processes; stop: pause them; continue: resume paused ones."),
      matchFullCommand: z.boolean().default(false).describe("Match the whole command line instead of the name."),
      maxProcesses: z.number().int().min(1).max(200).default(20).describe("Refuse, touching nothing, if more processes than this match."),
      graceSeconds: z.number().int().min(0).max(60).default(5).describe("kill only: seconds between SIGTERM and SIGKILL."),
      dryRun: z.boolean().default(false).describe("Only list what would be signalled and what is protected."),
    }),
    tier: 2,
    example: { pattern: "^stuck-worker$", operation: "kill" },
    action: "process.signal",
    platforms: LINUX,
    params: (input) => input,
  }),

  clean_disk_space: agentTool({
    description:
      "Free disk space: remove temporary files (in /tmp and /var/tmp) neither modified nor read for a number of hours, skipping files in use, and/or shrink the systemd journal's archived files to a size. Reports the bytes freed. Use dryRun to see what would go.",
    input: z.strictObject({
      tempOlderThanHours: z.number().int().min(1).max(8_760).optional().describe("Remove temporary files untouched for this many hours, e.g. 168 for a week."),
      journalMaxMb: z.number().int().min(16).max(1_048_576).optional().describe("Shrink archived journal files to at most this many MiB."),
      dryRun: z.boolean().default(false).describe("Only report what would be removed."),
    }),
    tier: 2,
    example: { tempOlderThanHours: 168, journalMaxMb: 500 },
    action: "disk.clean",
    platforms: LINUX,
    params: (input) => input,
  }),

  add_process: hubTool("process_add", {
    description:
      "Add a process for the machine's Cortex agent to keep running: program and arguments (no shell unless asked), folder, environment, launch mode and schedule, relaunch policy, stop signal. A new command line is as strong as a shell, so this asks a person first.",
    tier: 3,
    example: { machine: "web-1", name: "api", command: "/usr/bin/node", args: ["server.js"], cwd: "/srv/api", env: [{ name: "PORT", value: "8080" }] },
  }),

  update_process: hubTool("process_update", {
    description: "Change a supervised process's configuration: only the fields given change. A running process whose command, arguments, folder or environment change is restarted with them.",
    tier: 3,
    example: { machine: "web-1", name: "api", args: ["server.js", "--workers", "4"] },
  }),

  delete_process: hubTool("process_remove", {
    description: "Remove a supervised process from the machine's list: the agent stops it and no longer keeps it running.",
    tier: 3,
    example: { machine: "web-1", name: "api" },
  }),

  run_command: agentTool({
    description:
      "Run a shell command on the machine (bash on Linux, PowerShell on Windows) as the agent's user and return its output and exit code. Prefer the specific tools when one fits.",
    input: z.strictObject({
      command: z.string().min(1).max(64 * 1024).describe("The command line."),
      cwd: Path.optional().describe("Working directory."),
      timeoutSeconds: z
        .number()
        .int()
        .min(1)
        .max(MAX_BASH_TIMEOUT_MS / 1000)
        .default(DEFAULT_BASH_TIMEOUT_MS / 1000)
        .describe("Stop the command after this many seconds."),
      loginShell: z
        .boolean()
        .default(true)
        .describe("Run in a login shell (the user's profile: PATH and environment as in a terminal). false starts a plain shell, faster but without the profile."),
    }),
    tier: 3,
    example: { command: "ip -brief addr", timeoutSeconds: 30 },
    action: "bash",
    platforms: BOTH,
    params: ({ command, cwd, timeoutSeconds, loginShell }) => ({ command, cwd, timeoutMs: timeoutSeconds * 1000, login: loginShell }),
  }),

  read_file: agentTool({
    description: "Read a text file (numbered lines) or an image on the machine.",
    input: z.strictObject({
      path: Path,
      offset: z.number().int().min(1).default(1).describe("First line to show, 1-based."),
      limit: z.number().int().min(1).max(100_000).default(2_000).describe("How many lines to show."),
    }),
    tier: 3,
    example: { path: "/etc/nginx/nginx.conf" },
    action: "read",
    platforms: BOTH,
    params: (input) => input,
  }),

  list_directory: agentTool({
    description: "List a folder on the machine: type, permissions, owner, size, modification time and name of each entry; symlinks with their target.",
    input: z.strictObject({
      path: Path,
      limit: z.number().int().min(1).max(5_000).default(500).describe("At most this many entries."),
    }),
    tier: 3,
    example: { path: "/etc/nginx" },
    action: "list",
    platforms: BOTH,
    params: (input) => input,
  }),

  write_file: agentTool({
    description: "Write a text file on the machine, replacing it if it exists and creating missing folders.",
    input: z.strictObject({
      path: Path,
      content: z.string().max(MAX_WRITE_BYTES).describe("The whole new content of the file."),
    }),
    tier: 3,
    example: { path: "/etc/motd", content: "Maintenance on Friday.\n" },
    action: "write",
    platforms: BOTH,
    params: ({ path, content }) => ({ path, content, encoding: "utf8" }),
  }),

  reboot_machine: agentTool({
    description: "Reboot the machine, by default in one minute. Scheduled reboots can be cancelled with cancel_shutdown.",
    input: Power,
    tier: 3,
    example: { delayMinutes: 5, message: "Rebooting to apply updates" },
    action: "system.reboot",
    platforms: BOTH,
    params: (input) => input,
  }),

  shutdown_machine: agentTool({
    description: "Power the machine off, by default in one minute. Nobody can start it again through Cortex. Scheduled shutdowns can be cancelled with cancel_shutdown.",
    input: Power,
    tier: 3,
    example: { delayMinutes: 10 },
    action: "system.shutdown",
    platforms: BOTH,
    params: (input) => input,
  }),

  cancel_shutdown: agentTool({
    description: "Cancel a scheduled reboot or shutdown of the machine.",
    input: z.strictObject({}),
    tier: 3,
    example: {},
    action: "system.cancel_shutdown",
    platforms: BOTH,
    params: () => ({}),
  }),
};

export type ToolName = keyof typeof DEFINITIONS;

/** Every tool, by name, in the order they are offered. */
export const TOOL_CATALOG: Readonly<Record<ToolName, Tool>> = Object.fromEntries(
  Object.entries(DEFINITIONS).map(([name, definition]) => [name, { name, ...definition }]),
) as Record<ToolName, Tool>;

export const TOOL_NAMES = Object.keys(TOOL_CATALOG) as ToolName[];
