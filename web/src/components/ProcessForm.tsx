import type { JSX } from "preact";
import { useState } from "preact/hooks";
import {
  parseScheduleWindow,
  ProcessSpec,
  scheduleWindowText,
  StopSignal,
  type LaunchMode,
  type ProcessSpecInput,
} from "../../../protocol/processes.ts";
import { evaluateProcess } from "../../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../../protocol/tiers.ts";

/** The form's fields, as typed: lists one item a line, numbers as text. */
interface Fields {
  name: string;
  command: string;
  args: string;
  shell: boolean;
  cwd: string;
  env: string;
  launchMode: LaunchMode;
  schedule: string;
  startupSeconds: string;
  startDelaySeconds: string;
  stopSignal: StopSignal;
  stopGraceSeconds: string;
  maxAttempts: string;
  windowSeconds: string;
  backoffSeconds: string;
  maxBackoffSeconds: string;
  logMaxMb: string;
  logKeep: string;
}

function fieldsOf(spec: ProcessSpec | null): Fields {
  const s = spec ?? ProcessSpec.parse({ name: "new", command: "/" });
  return {
    name: spec?.name ?? "",
    command: spec?.command ?? "",
    args: s.args.join("\n"),
    shell: s.shell,
    cwd: s.cwd ?? "",
    env: Object.entries(s.env)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    launchMode: s.launchMode,
    schedule: s.schedule.map(scheduleWindowText).join("\n"),
    startupSeconds: String(s.startupSeconds),
    startDelaySeconds: String(s.startDelaySeconds),
    stopSignal: s.stopSignal,
    stopGraceSeconds: String(s.stopGraceSeconds),
    maxAttempts: String(s.restart.maxAttempts),
    windowSeconds: String(s.restart.windowSeconds),
    backoffSeconds: String(s.restart.backoffSeconds),
    maxBackoffSeconds: String(s.restart.maxBackoffSeconds),
    logMaxMb: String(s.log.maxBytes / (1024 * 1024)),
    logKeep: String(s.log.keep),
  };
}

/** The schema reports the relaunch and log settings as one field each. */
const PROBLEM_KEY: Record<string, string> = {
  maxAttempts: "restart",
  windowSeconds: "restart",
  backoffSeconds: "restart",
  maxBackoffSeconds: "restart",
  logMaxMb: "log",
  logKeep: "log",
};

const lines = (text: string) => text.split("\n").filter((l) => l.trim() !== "");

/** The configuration the fields describe, or the problems with them, field by field. */
function specOf(f: Fields): { spec: ProcessSpec } | { problems: Record<string, string> } {
  const problems: Record<string, string> = {};
  const env: Record<string, string> = {};
  for (const line of lines(f.env)) {
    const eq = line.indexOf("=");
    if (eq <= 0) problems.env = `"${line}" is not NAME=value`;
    else env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  const schedule = lines(f.schedule).map(parseScheduleWindow);
  const badWindow = schedule.find((w): w is string => typeof w === "string");
  if (badWindow) problems.schedule = badWindow;
  if (Object.keys(problems).length) return { problems };
  const input: ProcessSpecInput = {
    name: f.name.trim(),
    command: f.command,
    args: f.shell ? [] : lines(f.args),
    shell: f.shell,
    ...(f.cwd.trim() ? { cwd: f.cwd.trim() } : {}),
    env,
    launchMode: f.launchMode,
    schedule: schedule as Exclude<(typeof schedule)[number], string>[],
    startupSeconds: Number(f.startupSeconds),
    startDelaySeconds: Number(f.startDelaySeconds),
    stopSignal: f.stopSignal,
    stopGraceSeconds: Number(f.stopGraceSeconds),
    restart: { maxAttempts: Number(f.maxAttempts), windowSeconds: Number(f.windowSeconds), backoffSeconds: Number(f.backoffSeconds), maxBackoffSeconds: Number(f.maxBackoffSeconds) },
    log: { maxBytes: Math.round(Number(f.logMaxMb) * 1024 * 1024), keep: Number(f.logKeep) },
  };
  const parsed = ProcessSpec.safeParse(input);
  if (parsed.success) return { spec: parsed.data };
  for (const issue of parsed.error.issues) {
    const key = String(issue.path[0] ?? "form");
    problems[key] ??= `${issue.path.slice(1).join(".") ? `${issue.path.slice(1).join(".")}: ` : ""}${issue.message}`;
  }
  return { problems };
}

/**
 * Adds a process or edits one. The form checks the whole configuration with the protocol's schema as it is typed, and
 * the machine's tier with the same policy the hub and the agent apply, so a refusal is explained before anything is
 * sent; the hub checks everything again.
 */
export function ProcessForm(props: {
  existing: ProcessSpec | null;
  tier: CapabilityTier;
  sandboxRoot: string | null;
  busy: boolean;
  onSubmit: (spec: ProcessSpec) => void;
  onCancel: () => void;
}) {
  const [f, setF] = useState<Fields>(() => fieldsOf(props.existing));
  const [tried, setTried] = useState(false);
  const [touched, setTouched] = useState<ReadonlySet<string>>(new Set());
  const set = (patch: Partial<Fields>) => {
    setF({ ...f, ...patch });
    setTouched(new Set([...touched, ...Object.keys(patch).map((k) => PROBLEM_KEY[k] ?? k)]));
  };
  const result = specOf(f);
  const problems = "problems" in result ? result.problems : {};
  const tierDecision = "spec" in result ? evaluateProcess(props.tier, result.spec, props.sandboxRoot ? { sandboxRoot: props.sandboxRoot } : {}) : { allowed: true as const };
  const id = (name: string) => `process-form-${name}`;
  // A problem shows once its field was edited, or on submit: an empty new form is not an error yet.
  const shown = (key: string) => problems[key] !== undefined && (tried || touched.has(key));
  const problem = (key: string) =>
    shown(key) ? (
      <span class="field-problem" id={id(`${key}-problem`)} role="alert">
        {problems[key]}
      </span>
    ) : null;
  /** A field with its label and, outside the label (so it does not become the input's name), its problem. */
  const field = (key: string, label: string, input: (attrs: Record<string, unknown>) => JSX.Element, wide = false, problemKey = key) => (
    <div class={wide ? "field wide" : "field"}>
      <label for={id(key)}>{label}</label>
      {input({ id: id(key), ...(shown(problemKey) ? { "aria-invalid": true, "aria-describedby": id(`${problemKey}-problem`) } : {}) })}
      {key === problemKey ? problem(problemKey) : null}
    </div>
  );
  const text = (key: keyof Fields, attrs: Record<string, unknown> = {}) => (a: Record<string, unknown>) => (
    <input {...a} {...attrs} value={f[key] as string} onInput={(e) => set({ [key]: e.currentTarget.value })} />
  );
  const area = (key: keyof Fields, rows: number) => (a: Record<string, unknown>) => (
    <textarea {...a} class="mono" rows={rows} value={f[key] as string} onInput={(e) => set({ [key]: e.currentTarget.value })} />
  );

  return (
    <form
      class="action-form process-form"
      aria-label={props.existing ? `Edit ${props.existing.name}` : "Add a process"}
      onSubmit={(e) => {
        e.preventDefault();
        setTried(true);
        if (!props.busy && "spec" in result && tierDecision.allowed) props.onSubmit(result.spec);
      }}
    >
      {field("name", "Name", text("name", { disabled: props.existing !== null, placeholder: "api" }))}
      {field("command", f.shell ? "Command line (run by /bin/sh -c)" : "Program", text("command", { class: "mono", placeholder: "/usr/bin/node" }), true)}
      <label class="check wide">
        <input type="checkbox" checked={f.shell} onChange={(e) => set({ shell: e.currentTarget.checked })} /> Run through a shell
      </label>
      {f.shell ? null : field("args", "Arguments (one a line)", area("args", 3), true)}
      {field("cwd", "Working folder", text("cwd", { class: "mono", placeholder: props.tier === "unprivileged" ? "the sandbox" : "/" }), true)}
      {field("env", "Environment (NAME=value, one a line)", area("env", 3), true)}
      {field("launchMode", "Launch mode", (a) => (
        <select {...a} value={f.launchMode} onChange={(e) => set({ launchMode: e.currentTarget.value as LaunchMode })}>
          <option value="always">always: keep it running</option>
          <option value="scheduled">scheduled: inside its windows</option>
          <option value="off">off: only by hand</option>
        </select>
      ))}
      {f.launchMode === "scheduled" ? field("schedule", "Schedule, in the machine's time zone (one window a line, e.g. \"mon-fri 08:00-18:00\")", area("schedule", 2), true) : null}
      <details class="wide">
        <summary>Relaunches, timings and logs</summary>
        <div class="action-form">
          {field("maxAttempts", "Relaunches allowed", text("maxAttempts", { inputMode: "numeric" }), false, "restart")}
          {field("windowSeconds", "within (seconds)", text("windowSeconds", { inputMode: "decimal" }), false, "restart")}
          {field("backoffSeconds", "first wait (seconds)", text("backoffSeconds", { inputMode: "decimal" }), false, "restart")}
          {field("maxBackoffSeconds", "longest wait (seconds)", text("maxBackoffSeconds", { inputMode: "decimal" }), false, "restart")}
          <div class="wide">{problem("restart")}</div>
          {field("startupSeconds", "Up for (seconds) to count as started", text("startupSeconds", { inputMode: "decimal" }))}
          {field("startDelaySeconds", "Start delay (seconds)", text("startDelaySeconds", { inputMode: "decimal" }))}
          {field("stopSignal", "Stop signal", (a) => (
            <select {...a} value={f.stopSignal} onChange={(e) => set({ stopSignal: e.currentTarget.value as StopSignal })}>
              {StopSignal.options.map((sig) => (
                <option key={sig} value={sig}>
                  {sig}
                </option>
              ))}
            </select>
          ))}
          {field("stopGraceSeconds", "Grace before SIGKILL (seconds)", text("stopGraceSeconds", { inputMode: "decimal" }))}
          {field("logMaxMb", "Log rotated at (MB)", text("logMaxMb", { inputMode: "decimal" }), false, "log")}
          {field("logKeep", "Rotated logs kept", text("logKeep", { inputMode: "numeric" }), false, "log")}
          <div class="wide">{problem("log")}</div>
        </div>
      </details>
      {problems.form && tried ? <p class="field-problem wide">{problems.form}</p> : null}
      {!tierDecision.allowed ? (
        <p class="notice notice-error wide" role="alert">
          This machine (tier {props.tier}) would refuse it: {tierDecision.reason}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="submit" disabled={props.busy || (tried && !("spec" in result)) || !tierDecision.allowed}>
          {props.existing ? "Save changes" : "Add process"}
        </button>
        <button type="button" class="link-button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
