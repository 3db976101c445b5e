import { computed } from "@preact/signals";
import type { NodeStatus } from "../../../protocol/api.ts";
import type { LiveNode } from "../../../protocol/live-messages.ts";
import { now } from "../clock.ts";
import { ago } from "../format.ts";
import { allNodes, liveState, nodeIds, nodeSignal } from "../live.ts";
import { figuresOf } from "../node-figures.ts";
import { canManageNodes } from "../permissions.ts";
import { location, queryParam, updateQuery } from "../router.ts";
import { role } from "../session.ts";
import { AgentVersion } from "../components/AgentVersion.tsx";
import { Link } from "../components/Link.tsx";
import { Meter } from "../components/Meter.tsx";
import { neverConnected, NodeStatusBadge, WAITING } from "../components/StatusBadge.tsx";

const STATUSES: NodeStatus[] = ["connected", "connecting", "disconnected", "error", "deregistered"];
/** The default view leaves out machines that were removed; the filter can bring them back. */
const ACTIVE = "active";
const NO_GROUP = "(none)";

const groups = computed(() => [...new Set(allNodes().map((n) => n.group ?? NO_GROUP))].sort());

const counts = computed(() => {
  const nodes = allNodes().filter((n) => n.status !== "deregistered");
  return { total: nodes.length, connected: nodes.filter((n) => n.status === "connected").length };
});

/** When a machine was last heard from: its last heartbeat while connected, else when it went away. */
function lastSeen(n: LiveNode): number | null {
  return n.status === "connected" ? (n.lastHeartbeatAt ?? n.connectedAt) : n.disconnectedAt;
}

const STATUS_RANK: Record<string, number> = { connected: 0, connecting: 1, [WAITING]: 2, disconnected: 3, error: 4, deregistered: 5 };

/** Every column a person can sort by: its header, and the value it sorts on (null sorts last either way). */
const COLUMNS: { key: string; label: string; value: (n: LiveNode) => string | number | null }[] = [
  { key: "name", label: "Machine", value: (n) => n.name.toLowerCase() },
  { key: "status", label: "Status", value: (n) => STATUS_RANK[neverConnected(n) ? WAITING : n.status] ?? 9 },
  { key: "tier", label: "Tier", value: (n) => ({ root: 0, sudo: 1, unprivileged: 2 })[n.runningTier ?? n.tier] },
  { key: "group", label: "Group", value: (n) => n.group?.toLowerCase() ?? null },
  { key: "version", label: "Version", value: (n) => n.version },
  { key: "cpu", label: "CPU", value: (n) => figuresOf(n).cpu },
  { key: "memory", label: "Memory", value: (n) => figuresOf(n).memory },
  { key: "disk", label: "Disk", value: (n) => figuresOf(n).disk },
  { key: "gpu", label: "GPU", value: (n) => figuresOf(n).gpu },
  { key: "seen", label: "Last seen", value: lastSeen },
];

function sortOf(): { column: (typeof COLUMNS)[number]; descending: boolean } {
  const column = COLUMNS.find((c) => c.key === queryParam("sort")) ?? COLUMNS[0]!;
  return { column, descending: queryParam("dir") === "desc" };
}

function compare(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Ids passing the filters, in the chosen order; recomputed on any change but keeps its identity when the answer is the same. */
let lastShown: string[] = [];
const shown = computed(() => {
  location.value;
  const status = queryParam("status") ?? ACTIVE;
  const group = queryParam("group") ?? "";
  const text = (queryParam("q") ?? "").toLowerCase();
  const { column, descending } = sortOf();
  const rows = nodeIds.value
    .map((id) => nodeSignal(id)!.value)
    .filter((n) => {
      if (status === ACTIVE ? n.status === "deregistered" : n.status !== status) return false;
      if (group && (n.group ?? NO_GROUP) !== group) return false;
      if (text && ![n.id, n.name, n.hostname ?? "", n.group ?? ""].some((v) => v.toLowerCase().includes(text))) return false;
      return true;
    });
  // Nulls stay last in both directions; ties keep the order by name.
  const ids = rows
    .map((n) => ({ id: n.id, v: column.value(n) }))
    .sort((a, b) => (a.v === null || b.v === null ? compare(a.v, b.v) : (descending ? -1 : 1) * compare(a.v, b.v)))
    .map((r) => r.id);
  if (ids.length === lastShown.length && ids.every((id, i) => id === lastShown[i])) return lastShown;
  return (lastShown = ids);
});

function SortHeader({ column }: { column: (typeof COLUMNS)[number] }) {
  const { column: current, descending } = sortOf();
  const active = current.key === column.key;
  const next = active && !descending ? "desc" : "";
  return (
    <th scope="col" aria-sort={active ? (descending ? "descending" : "ascending") : undefined}>
      <button type="button" class="sort" onClick={() => updateQuery({ sort: column.key === "name" && next === "" ? "" : column.key, dir: next })}>
        {column.label}
        <span class="sort-mark" aria-hidden="true">
          {active ? (descending ? " ▼" : " ▲") : ""}
        </span>
      </button>
    </th>
  );
}

/** On a phone the table's headers are hidden (rows become cards), so the order is chosen here instead. */
function SortSelect() {
  const { column, descending } = sortOf();
  return (
    <label class="phone-only">
      Sort by
      <select
        aria-label="Sort by"
        value={`${column.key} ${descending ? "desc" : ""}`.trim()}
        onChange={(e) => {
          const [sort, dir] = e.currentTarget.value.split(" ");
          updateQuery({ sort: sort === "name" && !dir ? "" : sort!, dir: dir ?? "" });
        }}
      >
        {COLUMNS.flatMap((c) => [
          <option key={c.key} value={c.key}>
            {c.label} ▲
          </option>,
          <option key={`${c.key}-desc`} value={`${c.key} desc`}>
            {c.label} ▼
          </option>,
        ])}
      </select>
    </label>
  );
}

function Row({ id }: { id: string }) {
  const n = nodeSignal(id)?.value;
  if (!n) return null;
  const f = figuresOf(n);
  const seen = lastSeen(n);
  return (
    <tr data-node={n.id} data-status={n.status}>
      <th scope="row">
        <Link href={`/machines/${encodeURIComponent(n.id)}`}>{n.name}</Link>
        {n.name !== n.id ? <span class="muted small"> {n.id}</span> : null}
        {n.hostname ? <div class="muted small">{n.hostname}</div> : null}
      </th>
      <td data-label="Status">
        <NodeStatusBadge node={n} />
        {n.status === "error" && n.lastError ? <div class="small error-text">{n.lastError}</div> : null}
      </td>
      <td data-label="Tier">{n.runningTier && n.runningTier !== n.tier ? `${n.runningTier} (max ${n.tier})` : n.tier}</td>
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
        {seen === null && neverConnected(n) ? <span class="muted">not yet</span> : ago(seen, now.value)}
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
          <select value={status} onChange={(e) => updateQuery({ status: e.currentTarget.value === ACTIVE ? "" : e.currentTarget.value })}>
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
          <select value={group} onChange={(e) => updateQuery({ group: e.currentTarget.value })}>
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
          <input type="search" value={queryParam("q") ?? ""} placeholder="name, id or host" onInput={(e) => updateQuery({ q: e.currentTarget.value })} />
        </label>
        <SortSelect />
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
              {COLUMNS.map((c) => (
                <SortHeader key={c.key} column={c} />
              ))}
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
