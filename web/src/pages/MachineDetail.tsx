import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { NodeView } from "../../../protocol/api.ts";
import type { LiveNode } from "../../../protocol/live-messages.ts";
import { actionsAllowedAt, TIER_DESCRIPTIONS } from "../../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../../protocol/tiers.ts";
import { request } from "../api.ts";
import { now } from "../clock.ts";
import { ago, dateTime, duration } from "../format.ts";
import { liveState, nodeSignal } from "../live.ts";
import { figuresOf } from "../node-figures.ts";
import { sitePaths } from "../paths.ts";
import { canManageNodes } from "../permissions.ts";
import { role } from "../session.ts";
import { Console } from "../components/Console.tsx";
import { AgentVersion } from "../components/AgentVersion.tsx";
import { AiToolsSwitch } from "../components/AiToolsSwitch.tsx";
import { Link } from "../components/Link.tsx";
import { Meter } from "../components/Meter.tsx";
import { NodeAdmin } from "../components/NodeAdmin.tsx";
import { NodeCharts } from "../components/NodeCharts.tsx";
import { Processes } from "../components/Processes.tsx";
import { RecentDirectives } from "../components/RecentDirectives.tsx";
import { NodeStatusBadge } from "../components/StatusBadge.tsx";

const TIERS = Object.keys(TIER_DESCRIPTIONS) as CapabilityTier[];

function Fact({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children ?? <span class="muted">—</span>}</dd>
    </>
  );
}

/**
 * What can be run on the machine: the actions its tier permits (the one tier policy), less any its agent says it
 * cannot do. Not every capability the agent has: an unprivileged machine's agent can run a shell, its tier cannot.
 */
function permittedActions(node: LiveNode, full: NodeView | null): string {
  const every = actionsAllowedAt("root");
  const tier = actionsAllowedAt(node.runningTier ?? node.tier);
  const reported = full?.capabilities.length ? new Set(full.capabilities) : null;
  const permitted = tier.filter((a) => !reported || reported.has(a));
  // The shorter of the two lists says the same: what it may run, or what it may not.
  const refused = every.filter((a) => !permitted.includes(a));
  if (!refused.length) return "every action";
  return refused.length < permitted.length ? `every action but ${refused.join(", ")}` : permitted.join(", ");
}

function Facts({ node, full }: { node: LiveNode; full: NodeView | null }) {
  const m = node.metrics;
  return (
    <dl class="facts">
      <Fact name="Id">
        <code>{node.id}</code>
      </Fact>
      <Fact name="Host">{node.hostname}</Fact>
      <Fact name="System">{[node.os, node.arch].filter(Boolean).join(" · ") || null}</Fact>
      <Fact name="Agent version">{node.version ? <AgentVersion version={node.version} /> : null}</Fact>
      <Fact name="Group">{node.group}</Fact>
      <Fact name="Tier">{node.runningTier && node.runningTier !== node.tier ? `${node.runningTier} (registered up to ${node.tier})` : node.tier}</Fact>
      <Fact name="CPUs">{m?.cpuCount ?? null}</Fact>
      <Fact name="Load">{m?.loadAverage ? m.loadAverage.map((l) => l.toFixed(2)).join(" ") : null}</Fact>
      <Fact name="Uptime">{m && node.status === "connected" ? duration(m.uptimeSeconds * 1000) : null}</Fact>
      <Fact name="Running directives">{node.status === "connected" && m ? String(m.activeDirectives) : null}</Fact>
      <Fact name="GPUs">
        {m?.gpus?.length
          ? m.gpus.map((g, i) => (
              <div key={i}>
                {g.name}: {Math.round(g.utilizationPercent)}%, {Math.round(g.memoryUsedMb)} / {Math.round(g.memoryTotalMb)} MB
                {g.temperatureC !== undefined ? `, ${g.temperatureC} °C` : ""}
              </div>
            ))
          : null}
      </Fact>
      {node.status === "connected" ? (
        <Fact name="Connected since">{node.connectedAt ? dateTime(node.connectedAt) : null}</Fact>
      ) : (
        <Fact name="Disconnected">{node.disconnectedAt ? dateTime(node.disconnectedAt) : null}</Fact>
      )}
      <Fact name="Last heartbeat">{node.lastHeartbeatAt ? ago(node.lastHeartbeatAt, now.value) : null}</Fact>
      <Fact name="Registered">{dateTime(node.createdAt)}</Fact>
      <Fact name="Actions it permits">{permittedActions(node, full)}</Fact>
      <Fact name="Token">{full ? <code>{full.tokenPrefix}</code> : null}</Fact>
      {node.lastError ? <Fact name="Last error">{node.lastError}</Fact> : null}
    </dl>
  );
}

function TierLimits({ node }: { node: LiveNode }) {
  const tier = node.runningTier ?? node.tier;
  return (
    <section class="panel" aria-labelledby="tier-title">
      <h2 id="tier-title">What this machine allows</h2>
      <p>
        Tier <strong>{tier}</strong>: {TIER_DESCRIPTIONS[tier]}.
      </p>
      {node.runningTier && node.runningTier !== node.tier ? (
        <p class="muted">
          It was registered up to tier {node.tier}, and its agent chose to run at {node.runningTier}. The hub checks every directive against
          the tier before sending it, and the agent checks again before running it.
        </p>
      ) : (
        <p class="muted">The hub checks every directive against the tier before sending it, and the agent checks again before running it.</p>
      )}
      <details>
        <summary>All tiers</summary>
        <dl class="tiers">
          {TIERS.map((t) => (
            <Fragment key={t}>
              <dt>{t}</dt>
              <dd>{TIER_DESCRIPTIONS[t]}</dd>
            </Fragment>
          ))}
        </dl>
      </details>
    </section>
  );
}

export function MachineDetail({ site, id }: { site: string; id: string }) {
  const node = nodeSignal(id)?.value;
  const [full, setFull] = useState<NodeView | null>(null);
  const [runs, setRuns] = useState(0);
  useEffect(() => {
    request<NodeView>(sitePaths(site).node(id)).then(setFull, () => setFull(null));
  }, [site, id, node?.status, node?.connectedAt]);

  // The heading sits where it will once the machine is known, so a focus moved to it stays on it.
  if (!node) {
    return (
      <section aria-labelledby="machine-title" class="detail">
        <div class="page-head">
          <p class="crumbs">
            <Link href="/machines">Machines</Link> /
          </p>
          <h1 id="machine-title">{liveState.value === "open" ? "No such machine" : id}</h1>
        </div>
        <p>{liveState.value === "open" ? `No machine "${id}" on this site.` : "Loading…"}</p>
      </section>
    );
  }
  const f = figuresOf(node);
  return (
    <section aria-labelledby="machine-title" class="detail">
      <div class="page-head">
        <p class="crumbs">
          <Link href="/machines">Machines</Link> /
        </p>
        <h1 id="machine-title">{node.name}</h1>
        <NodeStatusBadge node={node} />
        <Link href={`/chat?node=${encodeURIComponent(node.id)}`} class="button ask-button">
          Ask about this machine
        </Link>
      </div>
      <div class="gauges" aria-label="Live usage">
        <Meter label="CPU" value={f.cpu} />
        <Meter label="Memory" value={f.memory} detail={f.memoryDetail} />
        <Meter label="Disk" value={f.disk} detail={f.diskDetail} />
        <Meter label="GPU" value={f.gpu} detail={f.gpuDetail} />
      </div>
      <div class="detail-grid">
        <section class="panel" aria-labelledby="facts-title">
          <h2 id="facts-title">Facts</h2>
          <Facts node={node} full={full} />
        </section>
        <TierLimits node={node} />
      </div>
      <Processes site={site} node={node} admin={canManageNodes(role.value)} />
      <Console site={site} node={node} onFinished={() => setRuns((n) => n + 1)} />
      <NodeCharts site={site} nodeId={node.id} heartbeatAt={node.lastHeartbeatAt} />
      <section class="panel" aria-labelledby="recent-title">
        <h2 id="recent-title">Recent directives</h2>
        <RecentDirectives site={site} nodeId={node.id} version={runs} />
      </section>
      {canManageNodes(role.value) && full ? <AiToolsSwitch site={site} node={full} changed={setFull} /> : null}
      {canManageNodes(role.value) ? <NodeAdmin site={site} node={node} /> : null}
    </section>
  );
}
