import { useEffect, useState } from "preact/hooks";
import type { ActivityEntry, ActivityKind, ActivityLevel, ActivityPage } from "../../../protocol/api.ts";
import { messageOf, request } from "../api.ts";
import { dateTime } from "../format.ts";
import { sitePaths } from "../paths.ts";
import { queryParam } from "../router.ts";
import { FilterSelect, MachineFilter, setQueryFilter } from "../components/Filters.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";

// A record, so a kind added to the protocol fails the typecheck until it can be picked here.
const KIND_SET: Record<ActivityKind, true> = { node: true, directive: true, access: true, settings: true, process: true, deployment: true, chat: true, autonomy: true };
const KINDS = Object.keys(KIND_SET) as ActivityKind[];
const LEVELS: ActivityLevel[] = ["debug", "info", "warn", "error"];
const RANGES: [string, string, number][] = [
  ["", "any time", 0],
  ["1h", "last hour", 3600_000],
  ["24h", "last 24 hours", 24 * 3600_000],
  ["7d", "last 7 days", 7 * 24 * 3600_000],
];
const DEFAULT_PAGE = 100;

function setFilter(name: string, value: string): void {
  setQueryFilter("/logs", name, value);
}

/** `until` comes from a datetime-local field, in the browser's time zone. */
function untilOf(value: string | null): number | undefined {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? t : undefined;
}

export function Logs({ site }: { site: string }) {
  const kind = queryParam("kind") ?? "";
  const level = queryParam("level") ?? "";
  const node = queryParam("node") ?? "";
  const range = queryParam("range") ?? "";
  const until = queryParam("until") ?? "";
  const limit = Math.min(500, Math.max(1, Number(queryParam("limit")) || DEFAULT_PAGE));
  const [entries, setEntries] = useState<ActivityEntry[] | null>(null);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [loadedAt, setLoadedAt] = useState(0);

  async function load(before?: number) {
    setBusy(true);
    const span = RANGES.find(([k]) => k === range)?.[2] ?? 0;
    const untilAt = untilOf(until);
    try {
      const page = await request<ActivityPage>(
        sitePaths(site).activity({
          kind,
          level,
          node,
          since: span ? (untilAt ?? Date.now()) - span : undefined,
          until: untilAt,
          before,
          limit,
        }),
      );
      setEntries((prev) => (before && prev ? prev.concat(page.entries) : page.entries));
      setNext(page.nextBefore);
      setError("");
      if (!before) setLoadedAt(Date.now());
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  useEffect(() => {
    setEntries(null);
    void load();
  }, [site, kind, level, node, range, until, limit]);

  return (
    <section aria-labelledby="logs-title">
      <div class="page-head">
        <h1 id="logs-title">Activity</h1>
        <button type="button" onClick={() => load()} disabled={busy}>
          Show newest
        </button>
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect label="Kind" value={kind} all="all kinds" options={KINDS} onChange={(v) => setFilter("kind", v)} />
        <FilterSelect label="Level" value={level} all="all levels" options={LEVELS} onChange={(v) => setFilter("level", v)} />
        <MachineFilter value={node} onChange={(v) => setFilter("node", v)} />
        <label>
          Period
          <select value={range} onChange={(e) => setFilter("range", e.currentTarget.value)}>
            {RANGES.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Up to
          <input type="datetime-local" value={until} onChange={(e) => setFilter("until", e.currentTarget.value)} />
        </label>
      </form>
      <Notice>{error}</Notice>
      {entries === null ? (
        <p class="muted">Loading…</p>
      ) : entries.length === 0 ? (
        <p class="empty">Nothing recorded{kind || level || node || range || until ? " that matches these filters" : " yet"}.</p>
      ) : (
        <>
          <p class="muted small" aria-live="polite">
            {entries.length} entr{entries.length === 1 ? "y" : "ies"}, newest first{loadedAt ? `, as of ${dateTime(loadedAt)}` : ""}
          </p>
          <table class="activity">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Level</th>
                <th scope="col">Kind</th>
                <th scope="col">Machine</th>
                <th scope="col">By</th>
                <th scope="col">What happened</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((e) => (
                <tr key={e.id} class={`level-${e.level}`}>
                  <td data-label="When" class="small nowrap">
                    {dateTime(e.at)}
                  </td>
                  <td data-label="Level">
                    <span class={`badge level-badge-${e.level}`}>{e.level}</span>
                  </td>
                  <td data-label="Kind">{e.kind}</td>
                  <td data-label="Machine">{e.nodeId ? <Link href={`/machines/${encodeURIComponent(e.nodeId)}`}>{e.nodeId}</Link> : <span class="muted">—</span>}</td>
                  <td data-label="By" class="small">
                    {e.actor ?? <span class="muted">—</span>}
                  </td>
                  <td data-label="What happened" class="message">
                    {e.message}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {next !== null ? (
            <button type="button" class="more" onClick={() => load(next)} disabled={busy}>
              Older entries
            </button>
          ) : (
            <p class="muted small">That is the beginning of the log{kind || level || node || range || until ? " for these filters" : ""}.</p>
          )}
        </>
      )}
    </section>
  );
}
