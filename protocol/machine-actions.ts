import * as z from "zod";
import { onFirstUse } from "./lazy-schema.ts";
import { AbsolutePath, normalizePath } from "./paths.ts";

/**
 * Params of the actions that look after a machine rather than its files: diagnostics (system, processes, disks,
 * network, services, logs, the agent), bounded management (services, signals, disk cleaning) and power. Every
 * value that reaches an external program is held to a strict shape here, so no input can become an option or a
 * shell word; the agent checks again what only it can know (its own unit, its own processes).
 */

/** Log files `logs.read` may show: the tail of a file under this folder, nothing else. */
export const LOG_FILE_ROOT = "/var/log";

/** Where the systemd journal keeps its files: reading the journal is reading this folder. */
export const JOURNAL_DIR = "/var/log/journal";

/** The unit types systemd knows; a name without one of these suffixes names a service. */
export const UNIT_TYPES = ["service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"] as const;

/** Unit types `service.manage` may start, stop or restart: the ones that run a program, never a target or a mount. */
export const MANAGED_UNIT_TYPES = ["service", "socket", "timer", "path"] as const;

/**
 * Units `service.manage` never touches, by prefix of the full unit name: init, the journal, logins, remote access,
 * the message bus, rescue modes, and systemd's own power services (`systemd-reboot.service` and friends), which
 * would turn a bounded tier-2 action into a reboot. The agent adds its own unit, which only it knows.
 */
export const PROTECTED_UNIT_PREFIXES = [
  "systemd-",
  "init.",
  "dbus",
  "ssh",
  "sshd",
  "getty@",
  "serial-getty@",
  "autovt@",
  "console-getty.",
  "container-getty@",
  "user@",
  "user-runtime-dir@",
  "rescue.",
  "emergency.",
  "polkit.",
] as const;

/** Units that may be restarted but never stopped: stopping them cuts the machine off from the hub. */
export const NEVER_STOPPED_UNIT_PREFIXES = ["networking.", "NetworkManager.", "wpa_supplicant."] as const;

/**
 * A systemd unit name: letters, digits and `:_.@-`, not starting with `-` or `.`, at most one `@`. No `/`, `\`,
 * space or glob character can appear, so a name can never be read as a path, an option or a pattern.
 */
export const UnitName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_:.@-]*$/, "unit name must be letters, digits and ':_.@-', not starting with '-' or '.'")
  .refine((name) => name.split("@").length <= 2, "unit name may contain '@' at most once");

/** The unit's full name, with `.service` added when it names no type, as systemctl itself would read it. */
export function fullUnitName(name: string): string {
  const suffix = name.slice(name.lastIndexOf(".") + 1);
  return name.includes(".") && (UNIT_TYPES as readonly string[]).includes(suffix) ? name : `${name}.service`;
}

function unitType(name: string): string {
  const full = fullUnitName(name);
  return full.slice(full.lastIndexOf(".") + 1);
}

/** Why `service.manage` may not apply `operation` to this unit, or null when it may. */
export function unitManagementRefusal(name: string, operation: ServiceOperation): string | null {
  const full = fullUnitName(name);
  const type = unitType(name);
  if (!(MANAGED_UNIT_TYPES as readonly string[]).includes(type)) {
    return `${full} is a .${type} unit; only ${MANAGED_UNIT_TYPES.map((t) => `.${t}`).join(", ")} units can be managed`;
  }
  const prefix = PROTECTED_UNIT_PREFIXES.find((p) => full.startsWith(p));
  if (prefix) return `${full} is protected (units starting with "${prefix}" keep the machine reachable and running)`;
  if (operation === "stop" && NEVER_STOPPED_UNIT_PREFIXES.some((p) => full.startsWith(p))) {
    return `${full} may be restarted but not stopped: stopping it would cut the machine off`;
  }
  return null;
}

/** A regular expression (RE2 syntax, matched in linear time by the agent) for process names or command lines. */
export const ProcessPattern = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\u0000-\u001f\u007f]+$/, "pattern must not contain control characters");

/** A relative age such as `30m`, `2h`, `7d`. */
export const RelativeAge = z.string().regex(/^[1-9][0-9]{0,5}[smhd]$/, "since must be a number followed by s, m, h or d, e.g. 30m, 2h, 7d");

export const JOURNAL_PRIORITIES = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;

// The params of each action are built by the first directive that names it (protocol/lazy-schema.ts).

export const SystemInfoParams = onFirstUse(() => z.object({}));

export const ProcessListParams = onFirstUse(() =>
  z.object({
    /** Case-insensitive; matched against the process name and its command line. */
    filter: ProcessPattern.optional(),
    sortBy: z.enum(["cpu", "memory"]).default("cpu"),
    limit: z.number().int().min(1).max(500).default(25),
  }),
);

export const DiskUsageParams = onFirstUse(() =>
  z.object({
    /** When set, also the largest entries directly under this folder (same filesystem only). */
    path: AbsolutePath.optional(),
    top: z.number().int().min(1).max(100).default(15),
  }),
);

export const NetworkInfoParams = onFirstUse(() => z.object({}));

export const ServiceStatusParams = onFirstUse(() =>
  z.object({
    /** Without a unit: the system's state and its failed units. */
    unit: UnitName.optional(),
  }),
);

export const LogsReadParams = onFirstUse(() =>
  z
    .object({
      unit: UnitName.optional(),
      file: AbsolutePath.optional(),
      lines: z.number().int().min(1).max(2_000).default(100),
      since: RelativeAge.optional(),
      priority: z.enum(JOURNAL_PRIORITIES).optional(),
    })
    .superRefine((params, ctx) => {
      if (params.unit !== undefined && params.file !== undefined) {
        ctx.addIssue({ code: "custom", path: ["file"], message: "give either unit (the journal) or file, not both" });
      }
      if (params.file !== undefined) {
        const path = normalizePath(params.file);
        if (!path.startsWith(`${LOG_FILE_ROOT}/`)) ctx.addIssue({ code: "custom", path: ["file"], message: `file must be under ${LOG_FILE_ROOT}` });
        if (params.since !== undefined || params.priority !== undefined) {
          ctx.addIssue({ code: "custom", path: ["since"], message: "since and priority apply to the journal, not to a file" });
        }
      }
    }),
);

export const AgentHealthParams = onFirstUse(() => z.object({}));

export const ServiceOperation = z.enum(["start", "stop", "restart"]);
export type ServiceOperation = z.infer<typeof ServiceOperation>;

export const ServiceManageParams = onFirstUse(() =>
  z.object({ unit: UnitName, operation: ServiceOperation }).superRefine((params, ctx) => {
    const refusal = unitManagementRefusal(params.unit, params.operation);
    if (refusal) ctx.addIssue({ code: "custom", path: ["unit"], message: refusal });
  }),
);

export const ProcessSignalParams = onFirstUse(() =>
  z.object({
    pattern: ProcessPattern,
    /** kill: SIGTERM, then SIGKILL for whatever is still running after the grace; stop: SIGSTOP; continue: SIGCONT. */
    operation: z.enum(["kill", "stop", "continue"]),
    /** Match the whole command line instead of the process name. */
    matchFullCommand: z.boolean().default(false),
    /** More matches than this and nothing is signalled: a pattern that broad is more likely a mistake. */
    maxProcesses: z.number().int().min(1).max(200).default(20),
    graceSeconds: z.number().int().min(0).max(60).default(5),
    /** List what would be signalled, and what is protected, without signalling anything. */
    dryRun: z.boolean().default(false),
  }),
);

export const DiskCleanParams = onFirstUse(() =>
  z
    .object({
      /** Remove temporary files neither modified nor read for this many hours. */
      tempOlderThanHours: z.number().int().min(1).max(8_760).optional(),
      /** Shrink the systemd journal's archived files to at most this many MiB. */
      journalMaxMb: z.number().int().min(16).max(1_048_576).optional(),
      dryRun: z.boolean().default(false),
    })
    .refine((p) => p.tempOlderThanHours !== undefined || p.journalMaxMb !== undefined, "give tempOlderThanHours, journalMaxMb or both"),
);

/** A message shown to logged-in users: printable, and not starting with '-' so it can never read as an option. */
export const WallMessage = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^-\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$/, "message must be printable text not starting with '-'");

export const MAX_POWER_DELAY_MINUTES = 7 * 24 * 60;

export const PowerParams = onFirstUse(() =>
  z.object({
    /** 0 means now; the agent may not get its answer out before the machine goes down. */
    delayMinutes: z.number().int().min(0).max(MAX_POWER_DELAY_MINUTES).default(1),
    message: WallMessage.optional(),
  }),
);

export const CancelShutdownParams = onFirstUse(() => z.object({}));

export const ListParams = onFirstUse(() =>
  z.object({
    path: AbsolutePath,
    limit: z.number().int().min(1).max(5_000).default(500),
  }),
);
