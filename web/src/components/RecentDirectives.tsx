import { useEffect, useState } from "preact/hooks";
import type { DirectiveListResponse, DirectiveView } from "../../../protocol/api.ts";
import { summarizeCall } from "../../../protocol/directive-summary.ts";
import { messageOf, request } from "../api.ts";
import { dateTime, duration } from "../format.ts";
import { nameOf } from "../live.ts";
import { sitePaths } from "../paths.ts";
import { Link } from "./Link.tsx";
import { Notice } from "./Notice.tsx";
import { DirectiveStatusBadge } from "./StatusBadge.tsx";

/** One line summary of what a directive did: the command, or the path and pattern. */
export function describeDirective(d: DirectiveView): string {
  return summarizeCall(d.action, d.params) || d.action;
}

export function directiveHref(id: string): string {
  return `/directives/${encodeURIComponent(id)}`;
}

/** How a directive ended, in a badge with its exit code (or signal) and how long it took. */
export function Outcome({ d }: { d: DirectiveView }) {
  const start = d.startedAt ?? d.sentAt;
  return (
    <>
      <DirectiveStatusBadge status={d.status} />
      {d.exitCode !== null ? <span class="small"> exit {d.exitCode}</span> : null}
      {d.signal ? <span class="small"> {d.signal}</span> : null}
      {d.endedAt && start ? <span class="small muted"> {duration(d.endedAt - start)}</span> : null}
    </>
  );
}

/** Directives as a table: when (linked to the directive's page), the machine by name, action, what, who, outcome. */
export function DirectiveTable({ list, className, showMachine = false }: { list: DirectiveView[]; className: string; showMachine?: boolean }) {
  return (
    <table class={className}>
      <thead>
        <tr>
          <th scope="col">When</th>
          {showMachine ? <th scope="col">Machine</th> : null}
          <th scope="col">Action</th>
          <th scope="col">What</th>
          <th scope="col">By</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {list.map((d) => (
          <tr key={d.id} data-directive={d.id}>
            <td data-label="When" class="small nowrap">
              <Link href={directiveHref(d.id)}>{dateTime(d.createdAt)}</Link>
            </td>
            {showMachine ? (
              <td data-label="Machine">
                <Link href={`/machines/${encodeURIComponent(d.nodeId)}`}>{nameOf(d.nodeId)}</Link>
              </td>
            ) : null}
            <td data-label="Action">{d.action}</td>
            <td data-label="What" class="mono small clip" title={describeDirective(d)}>
              {describeDirective(d)}
            </td>
            <td data-label="By" class="small">
              {d.requestedBy}
            </td>
            <td data-label="Outcome">
              <Outcome d={d} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function RecentDirectives({ site, nodeId, version }: { site: string; nodeId: string; version: number }) {
  const [list, setList] = useState<DirectiveView[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    request<DirectiveListResponse>(sitePaths(site).directives({ node: nodeId, limit: 15 }))
      .then((r) => (setList(r.directives), setError("")))
      .catch((err) => setError(messageOf(err)));
  }, [site, nodeId, version]);
  if (error) return <Notice>{error}</Notice>;
  if (!list) return <p class="muted">Loading…</p>;
  if (!list.length) return <p class="muted">No directives yet.</p>;
  return (
    <>
      <DirectiveTable list={list} className="compact" />
      <p class="small">
        <Link href={`/directives?node=${encodeURIComponent(nodeId)}`}>Every directive of this machine</Link>
      </p>
    </>
  );
}
