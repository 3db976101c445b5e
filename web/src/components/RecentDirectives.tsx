import { useEffect, useState } from "preact/hooks";
import type { DirectiveListResponse, DirectiveView } from "../../../protocol/api.ts";
import { messageOf, request } from "../api.ts";
import { dateTime, duration } from "../format.ts";
import { sitePaths } from "../paths.ts";
import { Notice } from "./Notice.tsx";
import { DirectiveStatusBadge } from "./StatusBadge.tsx";

/** One line summary of what a directive did: the command, or the path and pattern. */
export function describeDirective(d: DirectiveView): string {
  const p = d.params as Record<string, unknown>;
  const text = [p.command, p.pattern, p.path].filter((v): v is string => typeof v === "string").join("  ");
  return text || d.action;
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
    <table class="compact">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Action</th>
          <th scope="col">What</th>
          <th scope="col">By</th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {list.map((d) => (
          <tr key={d.id}>
            <td data-label="When" class="small nowrap">
              {dateTime(d.createdAt)}
            </td>
            <td data-label="Action">{d.action}</td>
            <td data-label="What" class="mono small clip" title={describeDirective(d)}>
              {describeDirective(d)}
            </td>
            <td data-label="By" class="small">
              {d.requestedBy}
            </td>
            <td data-label="Outcome">
              <DirectiveStatusBadge status={d.status} />
              {d.exitCode !== null ? <span class="small"> exit {d.exitCode}</span> : null}
              {d.endedAt && d.startedAt ? <span class="small muted"> {duration(d.endedAt - d.startedAt)}</span> : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
