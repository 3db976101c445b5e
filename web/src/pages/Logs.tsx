import { useEffect, useRef } from "preact/hooks";
import type { ActivityEntry, ActivityKind, ActivityLevel, ActivityPage } from "../../../protocol/api.ts";
import { dateTime } from "../format.ts";
import { liveState, nameOf, nodeIds, onActivity } from "../live.ts";
import { usePagedList } from "../paged-list.ts";
import { sitePaths } from "../paths.ts";
import { queryParam, updateQuery } from "../router.ts";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";
import { directiveHref } from "../components/RecentDirectives.tsx";

// Written out (the compiler checks that none is missing) so the page does not bundle zod for two lists.
const KINDS = Object.keys({ node: 1, directive: 1, access: 1, settings: 1, process: 1, deployment: 1, chat: 1, autonomy: 1 } satisfies Record<ActivityKind, 1>) as ActivityKind[];
const LEVELS = Object.keys({ debug: 1, info: 1, warn: 1, error: 1 } satisfies Record<ActivityLevel, 1>) as ActivityLevel[];
const RANGES: [string, string, number][] = [
  ["", "any time", 0],
  ["1h", "last hour", 3600_000],
  ["24h", "last 24 hours", 24 * 3600_000],
  ["7d", "last 7 days", 7 * 24 * 3600_000],
];
const DEFAULT_PAGE = 100;

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
  const {
    items: entries,
    setItems: setEntries,
    next,
    error,
    busy,
    loadedAt,
    load,
  } = usePagedList(
    (before?: number) => {
      const span = RANGES.find(([k]) => k === range)?.[2] ?? 0;
      const untilAt = untilOf(until);
      return sitePaths(site).activity({ kind, level, node, since: span ? (untilAt ?? Date.now()) - span : undefined, until: untilAt, before, limit });
    },
    (page: ActivityPage) => page.entries,
    [site, kind, level, node, range, until, limit],
  );

  // Live, like /machines: a new entry that passes the filters goes on top, a changed one (a directive that ended) is
  // redrawn in place. A view that ends at a chosen time is history and stays as it is.
  useEffect(() => {
    if (until) return;
    return onActivity((entry) => {
      setEntries((prev) => {
        if (!prev) return prev;
        if (prev.some((e) => e.id === entry.id)) return prev.map((e) => (e.id === entry.id ? entry : e));
        const passes = (!kind || entry.kind === kind) && (!level || entry.level === level) && (!node || entry.nodeId === node);
        return passes && (!prev[0] || entry.id > prev[0].id) ? [entry, ...prev] : prev;
      });
    });
  }, [site, kind, level, node, until]);

  // Entries pushed while the live socket was down were missed: read the newest page again once it is back.
  const live = liveState.value;
  const dropped = useRef(false);
  useEffect(() => {
    if (live === "retrying") dropped.current = true;
    else if (live === "open" && dropped.current) {
      dropped.current = false;
      void load();
    }
  }, [live]);

  return (
    <section aria-labelledby="logs-title">
      <div class="page-head">
        <h1 id="logs-title">Activity</h1>
        <button type="button" onClick={() => load()} disabled={busy}>
          Show newest
        </button>
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label>
          Kind
          <select value={kind} onChange={(e) => updateQuery({ kind: e.currentTarget.value })}>
            <option value="">all kinds</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Level
          <select value={level} onChange={(e) => updateQuery({ level: e.currentTarget.value })}>
            <option value="">all levels</option>
            {LEVELS.map((l) => (
              <option key={l} value={l}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Machine
          <select value={node} onChange={(e) => updateQuery({ node: e.currentTarget.value })}>
            <option value="">all machines</option>
            {(nodeIds.value.includes(node) || !node ? nodeIds.value : [node, ...nodeIds.value]).map((id) => (
              <option key={id} value={id}>
                {nameOf(id)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Period
          <select value={range} onChange={(e) => updateQuery({ range: e.currentTarget.value })}>
            {RANGES.map(([k, label]) => (
              <option key={k} value={k}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Up to
          <input type="datetime-local" value={until} onChange={(e) => updateQuery({ until: e.currentTarget.value })} />
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
            {entries.length} entr{entries.length === 1 ? "y" : "ies"}, newest first
            {until ? `, up to ${dateTime(untilOf(until) ?? loadedAt)}` : liveState.value === "open" ? "; new ones appear as they happen" : loadedAt ? `, as of ${dateTime(loadedAt)}` : ""}
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
                  <td data-label="Machine">{e.nodeId ? <Link href={`/machines/${encodeURIComponent(e.nodeId)}`}>{nameOf(e.nodeId)}</Link> : <span class="muted">—</span>}</td>
                  <td data-label="By" class="small">
                    {e.actor ?? <span class="muted">—</span>}
                  </td>
                  <td data-label="What happened" class="message">
                    <span class="entry-text">{e.message}</span>
                    {e.directiveId ? (
                      <>
                        {" "}
                        <Link href={directiveHref(e.directiveId)} class="entry-link">
                          {e.directiveId.slice(0, 10)}…
                        </Link>
                      </>
                    ) : e.fanoutId ? (
                      <>
                        {" "}
                        <Link href={`/directives?fanout=${encodeURIComponent(e.fanoutId)}`} class="entry-link">
                          fan-out {e.fanoutId.slice(0, 10)}…
                        </Link>
                      </>
                    ) : null}
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
