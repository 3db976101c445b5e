import { computed } from "@preact/signals";
import { useEffect, useMemo, useState } from "preact/hooks";
import type { FanOutAggregate, FanOutTarget } from "../../../protocol/api.ts";
import { DirectiveRun, type RunView } from "../directive-run.ts";
import { allNodes } from "../live.ts";
import { sitePaths } from "../paths.ts";
import { runnableActions } from "../permissions.ts";
import { role } from "../session.ts";
import { ActionForm } from "../components/ActionForm.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";
import { Output } from "../components/Output.tsx";
import { DirectiveStatusBadge } from "../components/StatusBadge.tsx";

const groups = computed(() => [...new Set(allNodes().flatMap((n) => (n.group && n.status !== "deregistered" ? [n.group] : [])))].sort());
const onlineCount = computed(() => allNodes().filter((n) => n.status === "connected").length);

const AGGREGATE_LABELS: [keyof FanOutAggregate, string][] = [
  ["total", "machines"],
  ["succeeded", "succeeded"],
  ["failed", "failed"],
  ["offline", "offline"],
  ["refused", "refused by tier"],
  ["cancelled", "cancelled"],
  ["timedOut", "timed out"],
  ["lost", "lost"],
];

function Aggregate({ a }: { a: FanOutAggregate }) {
  return (
    <ul class="aggregate" aria-label="Summary">
      {AGGREGATE_LABELS.filter(([k]) => k === "total" || a[k] !== 0).map(([k, label]) => (
        <li key={k} class={`agg-${k}`}>
          <strong>{a[k]}</strong> {label}
        </li>
      ))}
    </ul>
  );
}

function NodeResult({ v }: { v: RunView }) {
  const status = v.result?.status ?? (v.status === "starting" ? "queued" : v.status);
  return (
    <li class="node-result" data-node={v.nodeId}>
      <details open={v.segments.length > 0 && v.segments.length < 200}>
        <summary>
          <span class="node-result-name">{v.nodeId}</span> <DirectiveStatusBadge status={status} />
          {v.result?.exitCode !== null && v.result?.exitCode !== undefined ? <span class="small"> exit {v.result.exitCode}</span> : null}
          {v.result?.error ? <span class="small error-text"> {v.result.error}</span> : null}
        </summary>
        {v.segments.length ? <Output segments={v.segments} label={`Output on ${v.nodeId}`} /> : <p class="muted small">No output.</p>}
      </details>
    </li>
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
  const views = Object.values(run.views.value).sort((a, b) => a.nodeId.localeCompare(b.nodeId));

  if (!actions.length) return <p>Your role on this site cannot run directives.</p>;
  const fanTarget: FanOutTarget = target === "all" ? { all: true } : { group: chosenGroup };
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
            All online machines ({onlineCount.value})
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
        <ActionForm
          idPrefix="many"
          actions={actions}
          tier={null}
          busy={run.running.value || (target === "all" ? onlineCount.value === 0 : !chosenGroup)}
          submitLabel={target === "all" ? `Run on ${onlineCount.value} machine${onlineCount.value === 1 ? "" : "s"}` : `Run on group ${chosenGroup}`}
          onSubmit={(req) => void run.start(paths.fanouts, { ...req, target: fanTarget }, "X-Cortex-Fanout")}
        />
        <p class="muted small">
          Each machine checks the action against its own tier; machines that are offline or whose tier refuses it are counted apart.{" "}
          <Link href="/machines">See the machines</Link>.
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
      {run.aggregate.value ? <Aggregate a={run.aggregate.value} /> : null}
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
