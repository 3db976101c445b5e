import { useEffect, useState } from "preact/hooks";
import type { DeploymentView, RoostView } from "../../../../protocol/roost-api.ts";
import { messageOf, request } from "../../api.ts";
import { ago } from "../../format.ts";
import { sitePaths } from "../../paths.ts";
import { Link } from "../../components/Link.tsx";
import { Notice } from "../../components/Notice.tsx";
import { DeploymentTable } from "./DeploymentTable.tsx";

/** Every roost of the site and the latest deployments. */
export function RoostList({ site }: { site: string }) {
  const [roosts, setRoosts] = useState<RoostView[] | null>(null);
  const [deployments, setDeployments] = useState<DeploymentView[]>([]);
  const [error, setError] = useState("");
  const paths = sitePaths(site);

  useEffect(() => {
    Promise.all([request<{ roosts: RoostView[] }>(paths.roosts), request<{ deployments: DeploymentView[] }>(paths.deployments())])
      .then(([r, d]) => {
        setRoosts(r.roosts);
        setDeployments(d.deployments);
      })
      .catch((err) => setError(messageOf(err)));
  }, [site]);

  return (
    <section aria-labelledby="roosts-title">
      <div class="page-head">
        <h1 id="roosts-title">Roosts</h1>
      </div>
      <Notice>{error}</Notice>
      {roosts === null ? (
        error ? null : <p class="loading">Loading…</p>
      ) : roosts.length === 0 ? (
        <p class="muted">
          No roost yet. Push a folder with <code>cortex roost push ./folder --roost name</code>.
        </p>
      ) : (
        <table class="roosts">
          <thead>
            <tr>
              <th scope="col">Roost</th>
              <th scope="col">Latest version</th>
              <th scope="col">Versions</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {roosts.map((r) => (
              <tr key={r.name}>
                <td>
                  <Link href={`/roosts/${encodeURIComponent(r.name)}`}>{r.name}</Link>
                </td>
                <td>{r.latestVersion ?? "—"}</td>
                <td>{r.versions}</td>
                <td>{ago(r.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Recent deployments</h2>
      <DeploymentTable deployments={deployments} />
    </section>
  );
}
