import { computed } from "@preact/signals";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ACTION_RISK } from "../../../protocol/action-risk.ts";
import type { DirectiveRequest, FanOutTarget } from "../../../protocol/api.ts";
import { counted, summarizeCall } from "../../../protocol/directive-summary.ts";
import type { LiveNode } from "../../../protocol/live-messages.ts";
import { DirectiveRun, type RunView } from "../directive-run.ts";
import { allNodes, nameOf } from "../live.ts";
import { sitePaths } from "../paths.ts";
import { runnableActions } from "../permissions.ts";
import { role } from "../session.ts";
import { ActionForm } from "../components/ActionForm.tsx";
import { AggregateList } from "../components/AggregateList.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";
import { Output } from "../components/Output.tsx";
import { directiveHref } from "../components/RecentDirectives.tsx";
import { DirectiveStatusBadge, NodeStatusBadge } from "../components/StatusBadge.tsx";

const registered = computed(() => allNodes().filter((n) => n.status !== "deregistered"));
const groups = computed(() => [...new Set(registered.value.flatMap((n) => (n.group ? [n.group] : [])))].sort());

/** The risk tier that asks for a confirmation: commands and changes to files, on every machine at once. */
const CONFIRM_RISK = 3;

function NodeResult({ v }: { v: RunView }) {
  const status = v.result?.status ?? (v.status === "starting" ? "queued" : v.status);
  return (
    <li class="node-result" data-node={v.nodeId}>
      <details open={v.segments.length > 0 && v.segments.length < 200}>
        <summary>
          <span class="node-result-name">{nameOf(v.nodeId)}</span> <DirectiveStatusBadge status={status} />
          {v.result?.exitCode !== null && v.result?.exitCode !== undefined ? <span class="small"> exit {v.result.exitCode}</span> : null}
          {v.result?.signal ? <span class="small"> {v.result.signal}</span> : null}
          {v.result?.error ? <span class="small error-text"> {v.result.error}</span> : null}
          {v.directiveId ? (
            <>
              {" "}
              <Link href={directiveHref(v.directiveId)} class="small">
                details
              </Link>
            </>
          ) : null}
        </summary>
        {v.segments.length ? <Output segments={v.segments} label={`Output on ${nameOf(v.nodeId)}`} /> : <p class="muted small">No output.</p>}
      </details>
    </li>
  );
}

/** Who the fan-out will ask, by name, before anything is sent: "all" asks the online machines; a group asks all its members. */
function Preview({ asked, skipped }: { asked: LiveNode[]; skipped: LiveNode[] }) {
  return (
    <div class="preview" aria-live="polite">
      <p>
        <strong>{counted(asked.length, "machine")}</strong> will be asked
        {skipped.length ? <span class="muted">; {counted(skipped.length, "offline machine")} will not ({skipped.map((n) => n.name).join(", ")})</span> : null}.
      </p>
      {asked.length ? (
        <ul class="preview-list" aria-label="Machines that will be asked">
          {asked.map((n) => (
            <li key={n.id} data-node={n.id}>
              {n.name}
              {n.status !== "connected" ? (
                <>
                  {" "}
                  <NodeStatusBadge node={n} />
                </>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function RunMany({ site }: { site: string }) {
  const run = useMemo(() => new DirectiveRun(), []);
  useEffect(() => () => run.stop(), [run]);
  const [target, setTarget] = useState<"all" | "group">("all");
  const [group, setGroup] = useState("");
  const actions = runnableActions(role.value);
  const paths = sitePaths(site);
  const chosenGroup = group || groups.value[0] || "";
  const views = Object.values(run.views.value).sort((a, b) => nameOf(a.nodeId).localeCompare(nameOf(b.nodeId)));

  if (!actions.length) {
    return (
      <section aria-labelledby="run-title">
        <h1 id="run-title">Run on many</h1>
        <p>Your role on this site cannot run directives.</p>
      </section>
    );
  }
  // The same choice the hub makes: "all" is every machine online now; a group names its members, online or not.
  const members = target === "all" ? registered.value : registered.value.filter((n) => n.group === chosenGroup);
  const asked = target === "all" ? members.filter((n) => n.status === "connected") : members;
  const skipped = target === "all" ? members.filter((n) => n.status !== "connected") : [];
  const fanTarget: FanOutTarget = target === "all" ? { all: true } : { group: chosenGroup };

  function send(req: DirectiveRequest) {
    if (ACTION_RISK[req.action] >= CONFIRM_RISK) {
      const what = summarizeCall(req.action, req.params);
      if (!confirm(`Run ${req.action === "bash" ? "this command" : req.action} on ${counted(asked.length, "machine")}?\n\n${what}`)) return;
    }
    void run.start(paths.fanouts, { ...req, target: fanTarget }, "X-Cortex-Fanout");
  }

  return (
    <section aria-labelledby="run-title">
      <div class="page-head">
        <h1 id="run-title">Run on many</h1>
      </div>
      <section class="panel">
        <fieldset class="target">
          <legend>Machines</legend>
          <label class="check">
            <input type="radio" name="target" checked={target === "all"} onChange={() => setTarget("all")} />
            All online machines
          </label>
          <label class="check">
            <input type="radio" name="target" checked={target === "group"} disabled={!groups.value.length} onChange={() => setTarget("group")} />
            A group
          </label>
          {target === "group" ? (
            <label>
              <span class="visually-hidden">Group</span>
              <select value={chosenGroup} onChange={(e) => setGroup(e.currentTarget.value)}>
                {groups.value.map((g) => (
                  <option key={g} value={g}>
                    {g}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
        </fieldset>
        <Preview asked={asked} skipped={skipped} />
        <ActionForm
          idPrefix="many"
          actions={actions}
          tier={null}
          busy={run.running.value || asked.length === 0}
          submitLabel={`Run on ${counted(asked.length, "machine")}`}
          onSubmit={send}
        />
        <p class="muted small">
          Each machine checks the action against its own tier; machines that are offline or whose tier refuses it are counted apart. A shell command asks
          for a confirmation first. <Link href="/machines">See the machines</Link>.
        </p>
      </section>
      {run.running.value ? (
        <div class="running-line">
          <span class="spinner" aria-hidden="true" />
          <span role="status">
            {views.filter((v) => v.result).length} of {views.length || "…"} finished
          </span>
          <button type="button" class="danger" disabled={!run.id.value} onClick={() => run.cancel(paths.cancelFanOut(run.id.value!))}>
            Cancel all
          </button>
        </div>
      ) : null}
      <Notice>{run.error.value}</Notice>
      {run.aggregate.value ? <AggregateList a={run.aggregate.value} /> : null}
      {views.length ? (
        <ul class="node-results" aria-label="Results per machine">
          {views.map((v) => (
            <NodeResult key={v.nodeId} v={v} />
          ))}
        </ul>
      ) : null}
    </section>
  );
}
