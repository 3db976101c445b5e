import { useEffect, useState } from "preact/hooks";
import type { DeploymentView, RoostDiffResponse, VersionView } from "../../../../protocol/roost-api.ts";
import { messageOf, request } from "../../api.ts";
import { ago, dateTime } from "../../format.ts";
import { sitePaths } from "../../paths.ts";
import { canDeploy } from "../../permissions.ts";
import { role } from "../../session.ts";
import { Notice } from "../../components/Notice.tsx";
import { bytes } from "./bytes.ts";
import { DeploymentTable } from "./DeploymentTable.tsx";
import { RollbackForm } from "./RollbackForm.tsx";

/** The files added, changed and removed by a version, loaded when the row is opened. */
function Changes({ site, v }: { site: string; v: VersionView }) {
  const [diff, setDiff] = useState<RoostDiffResponse | null>(null);
  const [error, setError] = useState("");
  function load(open: boolean) {
    if (!open || diff || v.version === 1) return;
    request<RoostDiffResponse>(sitePaths(site).roostDiff(v.roost, v.version - 1, v.version))
      .then(setDiff)
      .catch((err) => setError(messageOf(err)));
  }
  const summary = `+${v.added} ~${v.changed} −${v.removed}`;
  if (v.version === 1) return <span>{summary}</span>;
  return (
    <details onToggle={(e) => load(e.currentTarget.open)}>
      <summary>{summary}</summary>
      <Notice>{error}</Notice>
      {diff ? (
        <ul class="changes">
          {diff.added.map((d) => (
            <li key={`a${d.path}`} class="change-added">
              + {d.path}
            </li>
          ))}
          {diff.changed.map((d) => (
            <li key={`c${d.path}`} class="change-changed">
              ~ {d.path}
              {d.type === "file" ? ` (${bytes(d.before.size)} → ${bytes(d.size)})` : ""}
            </li>
          ))}
          {diff.removed.map((d) => (
            <li key={`r${d.path}`} class="change-removed">
              − {d.path}
            </li>
          ))}
        </ul>
      ) : error ? null : (
        <p class="loading">Loading…</p>
      )}
    </details>
  );
}

/** One roost: its versions (size, files, who, when, what changed), its deployments, and a rollback for admins. */
export function RoostDetail({ site, roost }: { site: string; roost: string }) {
  const [versions, setVersions] = useState<VersionView[] | null>(null);
  const [deployments, setDeployments] = useState<DeploymentView[]>([]);
  const [error, setError] = useState("");
  const paths = sitePaths(site);

  useEffect(() => {
    Promise.all([request<{ versions: VersionView[] }>(paths.roostVersions(roost)), request<{ deployments: DeploymentView[] }>(paths.deployments(roost))])
      .then(([v, d]) => {
        setVersions(v.versions);
        setDeployments(d.deployments);
      })
      .catch((err) => setError(messageOf(err)));
  }, [site, roost]);

  return (
    <section aria-labelledby="roost-title">
      <div class="page-head">
        <h1 id="roost-title">Roost {roost}</h1>
      </div>
      <Notice>{error}</Notice>
      {versions === null ? (
        error ? null : <p class="loading">Loading…</p>
      ) : (
        <table class="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Files</th>
              <th scope="col">Size</th>
              <th scope="col">What changed</th>
              <th scope="col">New data</th>
              <th scope="col">By</th>
              <th scope="col">When</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version}>
                <td>{v.version}</td>
                <td>{v.files}</td>
                <td>{bytes(v.bytes)}</td>
                <td>
                  <Changes site={site} v={v} />
                </td>
                <td>{bytes(v.newBytes)}</td>
                <td>{v.createdBy}</td>
                <td title={dateTime(v.createdAt)}>{ago(v.createdAt)}</td>
                <td>{v.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Deployments</h2>
      <DeploymentTable deployments={deployments} />
      {canDeploy(role.value) && versions?.length ? <RollbackForm site={site} roost={roost} versions={versions} last={deployments[0] ?? null} /> : null}
    </section>
  );
}
