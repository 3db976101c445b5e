import { useEffect } from "preact/hooks";
import type { DirectiveListResponse } from "../../../protocol/api.ts";
import { ACTION_RISK } from "../../../protocol/action-risk.ts";
import type { ActionName, DirectiveStatus } from "../../../protocol/directives.ts";
import { messageOf, request } from "../api.ts";
import { nameOf, nodeIds, onActivity } from "../live.ts";
import { usePagedList } from "../paged-list.ts";
import { sitePaths } from "../paths.ts";
import { queryParam, updateQuery } from "../router.ts";
import { Notice } from "../components/Notice.tsx";
import { DirectiveTable } from "../components/RecentDirectives.tsx";
import { DIRECTIVE_TONE } from "../components/StatusBadge.tsx";

const DEFAULT_PAGE = 50;
// From the records that name every action and every status, so the lists are whole without bundling zod.
const ACTIONS = Object.keys(ACTION_RISK) as ActionName[];
const STATUSES = Object.keys(DIRECTIVE_TONE) as DirectiveStatus[];

/**
 * Every directive of the site, newest first, with the filters of `GET /directives` (machine, status, action,
 * fan-out) kept in the address. A directive that ends while the page is open is updated in place.
 */
export function History({ site }: { site: string }) {
  const node = queryParam("node") ?? "";
  const status = queryParam("status") ?? "";
  const action = queryParam("action") ?? "";
  const fanout = queryParam("fanout") ?? "";
  const limit = Math.min(500, Math.max(1, Number(queryParam("limit")) || DEFAULT_PAGE));
  const filtered = Boolean(node || status || action || fanout);
  const {
    items: list,
    setItems: setList,
    next,
    setNext,
    error,
    setError,
    busy,
    load,
  } = usePagedList(
    (before?: number) => sitePaths(site).directives({ node, status, action, fanout, before, limit }),
    (page: DirectiveListResponse) => page.directives,
    [site, node, status, action, fanout, limit],
  );

  // A directive's activity entry changes as it starts and ends. A burst of them (a fan-out) reads the newest page
  // once, and merges it with any older pages already on screen.
  useEffect(() => {
    let timer = 0;
    const refresh = async () => {
      try {
        const page = await request<DirectiveListResponse>(sitePaths(site).directives({ node, status, action, fanout, limit }));
        const fresh = new Set(page.directives.map((d) => d.id));
        const oldest = page.directives[page.directives.length - 1]?.createdAt ?? 0;
        setList((prev) => {
          const older = (prev ?? []).slice(limit).filter((d) => !fresh.has(d.id) && d.createdAt <= oldest);
          if (!older.length) setNext(page.nextBefore);
          return page.directives.concat(older);
        });
      } catch (err) {
        setError(messageOf(err));
      }
    };
    const off = onActivity((entry) => {
      if (!entry.directiveId) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => void refresh(), 300);
    });
    return () => {
      off();
      window.clearTimeout(timer);
    };
  }, [site, node, status, action, fanout, limit]);

  return (
    <section aria-labelledby="history-page-title">
      <div class="page-head">
        <h1 id="history-page-title">Directives</h1>
        {fanout ? <p class="muted">of fan-out {fanout}</p> : null}
      </div>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label for="history-node">
          Machine
          <select id="history-node" value={node} onChange={(e) => updateQuery({ node: e.currentTarget.value })}>
            <option value="">all machines</option>
            {(nodeIds.value.includes(node) || !node ? nodeIds.value : [node, ...nodeIds.value]).map((id) => (
              <option key={id} value={id}>
                {nameOf(id)}
              </option>
            ))}
          </select>
        </label>
        <label for="history-status">
          Status
          <select id="history-status" value={status} onChange={(e) => updateQuery({ status: e.currentTarget.value })}>
            <option value="">any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s.replace("_", " ")}
              </option>
            ))}
          </select>
        </label>
        <label for="history-action">
          Action
          <select id="history-action" value={action} onChange={(e) => updateQuery({ action: e.currentTarget.value })}>
            <option value="">any action</option>
            {[...ACTIONS].sort().map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
        <label for="history-fanout">
          Fan-out
          <input id="history-fanout" value={fanout} placeholder="f-…" onChange={(e) => updateQuery({ fanout: e.currentTarget.value.trim() })} />
        </label>
      </form>
      <Notice>{error}</Notice>
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        <p class="empty">No directives{filtered ? " match these filters" : " yet"}.</p>
      ) : (
        <>
          <DirectiveTable list={list} className="history" showMachine />
          {next !== null ? (
            <button type="button" class="more" onClick={() => load(next)} disabled={busy}>
              Older directives
            </button>
          ) : (
            <p class="muted small">That is the first directive{filtered ? " that matches these filters" : ""}.</p>
          )}
        </>
      )}
    </section>
  );
}
