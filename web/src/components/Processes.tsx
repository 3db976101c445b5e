import { useEffect, useState } from "preact/hooks";
import type { LiveNode } from "../../../protocol/live-messages.ts";
import { launchText } from "../../../protocol/process-text.ts";
import type {
  ProcessActionResponse,
  ProcessListResponse,
  ProcessLogsResponse,
  ProcessOperation,
  ProcessSpec,
  ProcessState,
  ProcessStatus,
  ProcessView,
} from "../../../protocol/processes.ts";
import { AnsiRenderer } from "../ansi.ts";
import { messageOf, request } from "../api.ts";
import { now } from "../clock.ts";
import { dateTime, duration, megabytes, percent } from "../format.ts";
import { onProcesses } from "../live.ts";
import { lazyPage } from "../lazy.tsx";
import { sitePaths } from "../paths.ts";
import { Notice } from "./Notice.tsx";
import { Output } from "./Output.tsx";

// The form checks a process with the protocol's schemas (zod): it loads when an admin opens it, not with the page.
const ProcessForm = lazyPage(() => import("./ProcessForm.tsx").then((m) => m.ProcessForm));

const STATE_TONE: Record<ProcessState, string> = {
  running: "ok",
  starting: "pending",
  waiting: "pending",
  stopping: "pending",
  stopped: "off",
  gave_up: "bad",
  refused: "bad",
};

const LOG_LINES = 100;

function StateBadge({ status }: { status: ProcessStatus | null }) {
  if (!status) return <span class="badge tone-off">no report</span>;
  return (
    <span class={`badge tone-${STATE_TONE[status.state]}`} title={status.reason ?? undefined}>
      {status.state.replace("_", " ")}
      {status.held ? " (held)" : ""}
    </span>
  );
}

function lastExit(status: ProcessStatus | null): string {
  const e = status?.lastExit;
  if (!e) return "";
  const how = e.signal ?? (e.code === null ? "status unknown" : `code ${e.code}`);
  return `${e.kind.replace("_", " ")} (${how})`;
}

/** A log's text with its colours, rendered as text only. */
function segmentsOf(text: string) {
  const renderer = new AnsiRenderer();
  return [...renderer.push(text), ...renderer.flush()];
}

function commandOf(spec: ProcessSpec): string {
  return spec.shell ? spec.command : [spec.command, ...spec.args].join(" ");
}

/** The statuses a live push carries, put in place of the ones shown. */
function withStatuses(list: ProcessListResponse, statuses: readonly ProcessStatus[], applied: number | null): ProcessListResponse {
  const byName = new Map(statuses.map((s) => [s.name, s]));
  return { ...list, appliedVersion: applied, processes: list.processes.map((p) => ({ ...p, status: byName.get(p.name) ?? p.status })) };
}

/**
 * The machine's supervised processes: their state as the agent reports it (pushed live), and for admins start, stop,
 * restart, recent log lines, add, edit and remove. Members see the list with secrets redacted by the hub.
 */
export function Processes({ site, node, admin }: { site: string; node: LiveNode; admin: boolean }) {
  const paths = sitePaths(site);
  const [list, setList] = useState<ProcessListResponse | null>(null);
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  const [editing, setEditing] = useState<ProcessView | "new" | null>(null);
  const [logs, setLogs] = useState<{ name: string; text: string | null; error: string } | null>(null);

  const load = () =>
    request<ProcessListResponse>(paths.processes(node.id))
      .then((r) => (setList(r), setError("")))
      .catch((err) => setError(messageOf(err)));

  useEffect(() => {
    void load();
    return onProcesses((msg) => {
      if (msg.nodeId !== node.id) return;
      setList((current) => {
        if (!current || msg.configVersion !== current.configVersion) {
          void load();
          return current;
        }
        return msg.supervision ? withStatuses(current, msg.supervision.processes, msg.supervision.configVersion) : current;
      });
    });
  }, [site, node.id]);

  async function act(label: string, work: () => Promise<string | void>) {
    setBusy(label);
    setError("");
    setNotice("");
    try {
      const said = await work();
      if (said) setNotice(said);
      await load();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(null);
    }
  }

  const operate = (name: string, operation: ProcessOperation) =>
    act(`${operation}:${name}`, async () => {
      const r = await request<ProcessActionResponse>(paths.processAction(node.id, name, operation), { method: "POST" });
      if (!r.ok) throw new Error(r.message);
      return r.message;
    });

  const showLogs = async (name: string) => {
    setLogs({ name, text: null, error: "" });
    try {
      const r = await request<ProcessLogsResponse>(paths.processLogs(node.id, name, LOG_LINES), { method: "POST" });
      setLogs({ name, text: r.text, error: "" });
    } catch (err) {
      setLogs({ name, text: null, error: messageOf(err) });
    }
  };

  const save = (spec: ProcessSpec) =>
    act("save", async () => {
      if (editing === "new") {
        await request(paths.processes(node.id), { method: "POST", body: spec });
        setEditing(null);
        return `Added ${spec.name}; the agent starts it when its launch mode says so.`;
      }
      const { name: _name, ...patch } = spec;
      await request(paths.process(node.id, spec.name), { method: "PATCH", body: { ...patch, ...(spec.cwd === undefined ? { cwd: null } : {}) } });
      setEditing(null);
      return `Saved ${spec.name}.`;
    });

  const offline = node.status !== "connected";
  const tier = node.runningTier ?? node.tier;
  return (
    <section class="panel" aria-labelledby="processes-title">
      <div class="panel-head">
        <h2 id="processes-title">Processes</h2>
        {admin && editing === null && node.status !== "deregistered" ? (
          <button type="button" onClick={() => setEditing("new")}>
            Add a process
          </button>
        ) : null}
      </div>
      {list ? (
        <p class="muted small">
          Kept running by the machine's agent
          {list.timeZone ? `; schedules in ${list.timeZone}` : ""}
          {list.configVersion > 0 && list.appliedVersion !== list.configVersion ? "; the agent has not applied the latest change yet" : ""}
          {list.redacted ? "; arguments and environment values are hidden from readers" : ""}.
          {offline ? " The machine is offline: the states below are its last report." : ""}
        </p>
      ) : null}
      <Notice>{error}</Notice>
      <Notice tone="ok">{notice}</Notice>
      {editing !== null ? (
        <ProcessForm
          existing={editing === "new" ? null : editing.spec}
          tier={tier}
          sandboxRoot={node.sandboxRoot}
          busy={busy !== null}
          onSubmit={save}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      {!list ? (
        error ? null : <p class="muted">Loading…</p>
      ) : !list.processes.length ? (
        <p class="muted">No supervised processes{admin ? ": add one to have the agent keep it running." : "."}</p>
      ) : (
        <table class="compact processes">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">State</th>
              <th scope="col">PID</th>
              <th scope="col">Uptime</th>
              <th scope="col">Restarts</th>
              <th scope="col">Last exit</th>
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
              <th scope="col">Launch</th>
              {admin ? <th scope="col">Actions</th> : null}
            </tr>
          </thead>
          <tbody>
            {list.processes.map((p) => {
              const s = p.status;
              const running = s?.pid != null;
              return (
                <tr key={p.name} data-process={p.name}>
                  <th scope="row" data-label="Name">
                    <div>{p.name}</div>
                    <div class="mono small muted clip" title={commandOf(p.spec)}>
                      {commandOf(p.spec)}
                    </div>
                  </th>
                  <td data-label="State">
                    <StateBadge status={s} />
                    {s?.reason ? <div class="small muted">{s.reason}</div> : null}
                    {s?.nextStartAt ? <div class="small muted">next start {dateTime(s.nextStartAt)}</div> : null}
                  </td>
                  <td data-label="PID" class="mono">
                    {s?.pid ?? ""}
                  </td>
                  <td data-label="Uptime" class="nowrap">
                    {/* The page's clock ticks every 5 s, so it can be behind a start it has just heard of. */}
                    {s?.startedAt ? duration(Math.max(0, now.value - s.startedAt)) : ""}
                  </td>
                  <td data-label="Restarts">{s ? s.restarts : ""}</td>
                  <td data-label="Last exit" class="small" title={s?.lastExit ? dateTime(s.lastExit.at) : undefined}>
                    {lastExit(s)}
                  </td>
                  <td data-label="CPU">{s?.cpuPercent != null ? percent(s.cpuPercent) : ""}</td>
                  <td data-label="Memory">{s?.memoryBytes != null ? megabytes(s.memoryBytes / (1024 * 1024)) : ""}</td>
                  <td data-label="Launch" class="small">
                    {launchText(p.spec)}
                  </td>
                  {admin ? (
                    <td data-label="Actions">
                      <div class="button-row compact-buttons">
                        <button type="button" disabled={offline || busy !== null} onClick={() => void operate(p.name, running ? "restart" : "start")}>
                          {busy === `start:${p.name}` || busy === `restart:${p.name}` ? "…" : running ? "Restart" : "Start"}
                        </button>
                        <button type="button" disabled={offline || busy !== null || !running} onClick={() => void operate(p.name, "stop")}>
                          {busy === `stop:${p.name}` ? "…" : "Stop"}
                        </button>
                        <button type="button" disabled={offline} onClick={() => void showLogs(p.name)}>
                          Logs
                        </button>
                        <button type="button" disabled={busy !== null} onClick={() => setEditing(p)}>
                          Edit
                        </button>
                        <button
                          type="button"
                          class="danger"
                          disabled={busy !== null}
                          onClick={() =>
                            confirm(`Remove ${p.name}? The agent stops it and no longer keeps it running.`) &&
                            void act(`remove:${p.name}`, async () => {
                              await request(paths.process(node.id, p.name), { method: "DELETE" });
                              return `Removed ${p.name}.`;
                            })
                          }
                        >
                          Remove
                        </button>
                      </div>
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {logs ? (
        <div class="process-logs" aria-live="polite">
          <div class="panel-head">
            <h3>
              Last {LOG_LINES} lines of {logs.name}
            </h3>
            <div class="button-row">
              <button type="button" onClick={() => void showLogs(logs.name)}>
                Refresh
              </button>
              <button type="button" class="link-button" onClick={() => setLogs(null)}>
                Close
              </button>
            </div>
          </div>
          <Notice>{logs.error}</Notice>
          {logs.text === null ? (
            logs.error ? null : <p class="muted">Loading…</p>
          ) : (
            <Output segments={segmentsOf(logs.text || "(empty)")} label={`Last lines of ${logs.name}`} />
          )}
        </div>
      ) : null}
    </section>
  );
}
