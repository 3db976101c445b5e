import { useEffect, useMemo } from "preact/hooks";
import type { DirectiveView } from "../../../protocol/api.ts";
import type { LiveNode } from "../../../protocol/live-messages.ts";
import { actionsAllowedAt } from "../../../protocol/tier-policy.ts";
import { DirectiveRun } from "../directive-run.ts";
import { duration } from "../format.ts";
import { sitePaths } from "../paths.ts";
import { runnableActions } from "../permissions.ts";
import { role } from "../session.ts";
import { ActionForm } from "./ActionForm.tsx";
import { Notice } from "./Notice.tsx";
import { Output } from "./Output.tsx";
import { DirectiveStatusBadge } from "./StatusBadge.tsx";

function Outcome({ d }: { d: DirectiveView }) {
  const took = d.endedAt && (d.startedAt ?? d.sentAt) ? duration(d.endedAt - (d.startedAt ?? d.sentAt)!) : null;
  return (
    <p class="outcome" role="status">
      <DirectiveStatusBadge status={d.status} />
      {d.exitCode !== null ? <span> exit {d.exitCode}</span> : null}
      {took ? <span class="muted"> in {took}</span> : null}
      {d.truncated ? <span class="muted"> (output truncated)</span> : null}
      {d.error ? <span class="error-text"> {d.error}</span> : null}
    </p>
  );
}

/** Runs one action on the machine and shows its output live, with cancel. */
export function Console({ site, node, onFinished }: { site: string; node: LiveNode; onFinished: () => void }) {
  const run = useMemo(() => new DirectiveRun(), []);
  useEffect(() => () => run.stop(), [run]);
  const tier = node.runningTier ?? node.tier;
  // Only what both the person's role and the machine's tier allow, so the console never opens on a refusal.
  const allowed = new Set(actionsAllowedAt(tier));
  const actions = runnableActions(role.value).filter((a) => allowed.has(a));
  const view = run.views.value[node.id];
  const paths = sitePaths(site);
  const online = node.status === "connected";

  if (!actions.length) return null;
  return (
    <section class="panel" aria-labelledby="console-title">
      <h2 id="console-title">Console</h2>
      {!online ? <p class="muted">The machine is {node.status}; directives are refused until it connects.</p> : null}
      <ActionForm
        idPrefix="console"
        actions={actions}
        tier={tier}
        sandboxRoot={node.sandboxRoot}
        busy={run.running.value || !online}
        submitLabel="Run"
        onSubmit={async (req) => {
          await run.start(paths.run(node.id), req, "X-Cortex-Directive", node.id);
          onFinished();
        }}
      />
      {run.running.value ? (
        <div class="running-line">
          <span class="spinner" aria-hidden="true" />
          <span role="status">{view?.status === "starting" || !view ? "starting…" : `${view.status}…`}</span>
          <button type="button" class="danger" disabled={!run.id.value} onClick={() => run.cancel(paths.cancelDirective(run.id.value!))}>
            Cancel
          </button>
        </div>
      ) : null}
      <Notice>{run.error.value}</Notice>
      {view && (view.segments.length > 0 || view.result) ? <Output segments={view.segments} label={`Output on ${node.name}`} /> : null}
      {view?.result ? <Outcome d={view.result} /> : null}
    </section>
  );
}
