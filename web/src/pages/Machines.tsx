import { computed } from "@preact/signals";
import type { NodeStatus } from "../../../protocol/api.ts";
import { now } from "../clock.ts";
import { ago } from "../format.ts";
import { allNodes, liveState, nodeIds, nodeSignal } from "../live.ts";
import { figuresOf } from "../node-figures.ts";
import { canManageNodes } from "../permissions.ts";
import { location, queryParam } from "../router.ts";
import { setQueryFilter } from "../components/Filters.tsx";
import { role } from "../session.ts";
import { AgentVersion } from "../components/AgentVersion.tsx";
import { Link } from "../components/Link.tsx";
import { Meter } from "../components/Meter.tsx";
import { NodeStatusBadge } from "../components/StatusBadge.tsx";

const STATUSES: NodeStatus[] = ["connected", "connecting", "disconnected", "error", "deregistered"];
/** The default view leaves out machines that were removed; the filter can bring them back. */
const ACTIVE = "active";
const NO_GROUP = "(none)";

const groups = computed(() => [...new Set(allNodes().map((n) => n.group ?? NO_GROUP))].sort());

const counts = computed(() => {
  const nodes = allNodes().filter((n) => n.status !== "deregistered");
  return { total: nodes.length, connected: nodes.filter((n) => n.status === "connected").length };
});

/** Ids passing the filters; recomputed on any change but keeps its identity when the answer is the same. */
let lastShown: string[] = [];
const shown = computed(() => {
  location.value;
  const status = queryParam("status") ?? ACTIVE;
  const group = queryParam("group") ?? "";
  const text = (queryParam("q") ?? "").toLowerCase();
  const ids = nodeIds.value.filter((id) => {
    const n = nodeSignal(id)!.value;
    if (status === ACTIVE ? n.status === "deregistered" : n.status !== status) return false;
    if (group && (n.group ?? NO_GROUP) !== group) return false;
    if (text && ![n.id, n.name, n.hostname ?? "", n.group ?? ""].some((v) => v.toLowerCase().includes(text))) return false;
    return true;
  });
  if (ids.length === lastShown.length && ids.every((id, i) => id === lastShown[i])) return lastShown;
  return (lastShown = ids);
});

function setFilter(name: string, value: string): void {
  setQueryFilter("/machines", name, value);
}

function Row({ id }: { id: string }) {
  const n = nodeSignal(id)?.value;
  if (!n) return null;
  const f = figuresOf(n);
  return (
    <tr data-node={n.id} data-status={n.status}>
      <th scope="row">
        <Link href={`/machines/${encodeURIComponent(n.id)}`}>{n.name}</Link>
        {n.name !== n.id ? <span class="muted small"> {n.id}</span> : null}
        {n.hostname ? <div class="muted small">{n.hostname}</div> : null}
      </th>
      <td data-label="Status">
        <NodeStatusBadge status={n.status} />
        {n.status === "error" && n.lastError ? <div class="small error-text">{n.lastError}</div> : null}
      </td>
      <td data-label="Tier">
        {n.runningTier && n.runningTier !== n.tier ? `${n.runningTier} (max ${n.tier})` : n.tier}
      </td>
      <td data-label="Group">{n.group ?? <span class="muted">—</span>}</td>
      <td data-label="Version">
        <AgentVersion version={n.version} />
      </td>
      <td data-label="CPU">
        <Meter label="CPU" value={f.cpu} />
      </td>
      <td data-label="Memory">
        <Meter label="Memory" value={f.memory} detail={f.memoryDetail} />
      </td>
      <td data-label="Disk">
        <Meter label="Disk" value={f.disk} detail={f.diskDetail} />
      </td>
      <td data-label="GPU">
        <Meter label="GPU" value={f.gpu} detail={f.gpuDetail} />
      </td>
      <td data-label="Last seen" class="small">
        {n.status === "connected" ? ago(n.lastHeartbeatAt ?? n.connectedAt, now.value) : ago(n.disconnectedAt, now.value)}
      </td>
    </tr>
  );
}

export function Machines() {
  const status = queryParam("status") ?? ACTIVE;
  const group = queryParam("group") ?? "";
  const { total, connected } = counts.value;
  return (
    <section aria-labelledby="machines-title">
      <div class="page-head">
        <h1 id="machines-title">Machines</h1>
        <p class="muted">
          {connected} of {total} connected
        </p>
        {canManageNodes(role.value) ? (
          <Link href="/add" class="button">
            Add a machine
          </Link>
        ) : null}
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select value={status} onChange={(e) => setFilter("status", e.currentTarget.value === ACTIVE ? "" : e.currentTarget.value)}>
            <option value={ACTIVE}>all but removed</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Group
          <select value={group} onChange={(e) => setFilter("group", e.currentTarget.value)}>
            <option value="">all groups</option>
            {groups.value.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
          </select>
        </label>
        <label>
          Find
          <input type="search" value={queryParam("q") ?? ""} placeholder="name, id or host" onInput={(e) => setFilter("q", e.currentTarget.value)} />
        </label>
      </form>
      {liveState.value !== "open" && nodeIds.value.length === 0 ? (
        <p class="muted">Loading machines…</p>
      ) : shown.value.length === 0 ? (
        <p class="empty">
          {total === 0 ? "No machines yet." : "No machine matches these filters."}{" "}
          {total === 0 && canManageNodes(role.value) ? <Link href="/add">Add the first one.</Link> : null}
        </p>
      ) : (
        <table class="machines">
          <thead>
            <tr>
              <th scope="col">Machine</th>
              <th scope="col">Status</th>
              <th scope="col">Tier</th>
              <th scope="col">Group</th>
              <th scope="col">Version</th>
              <th scope="col">CPU</th>
              <th scope="col">Memory</th>
              <th scope="col">Disk</th>
              <th scope="col">GPU</th>
              <th scope="col">Last seen</th>
            </tr>
          </thead>
          <tbody>
            {shown.value.map((id) => (
              <Row key={id} id={id} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
