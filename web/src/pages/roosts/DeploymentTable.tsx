import type { DeploymentView } from "../../../../protocol/roost-api.ts";
import { ago } from "../../format.ts";
import { Link } from "../../components/Link.tsx";

const STATE_TONE: Record<DeploymentView["state"], string> = {
  canary: "pending",
  held: "bad",
  rolling: "pending",
  completed: "ok",
  aborted: "bad",
};

export function DeploymentState({ d }: { d: Pick<DeploymentView, "state"> }) {
  return <span class={`badge tone-${STATE_TONE[d.state]}`}>{d.state}</span>;
}

export function countsText(d: Pick<DeploymentView, "counts">): string {
  const c = d.counts;
  const parts = [`${c.done} done`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.running) parts.push(`${c.running} running`);
  if (c.pending) parts.push(`${c.pending} pending`);
  if (c.waiting) parts.push(`${c.waiting} waiting`);
  if (c.skipped) parts.push(`${c.skipped} skipped`);
  return `${parts.join(", ")} of ${c.total}`;
}

export function DeploymentTable({ deployments }: { deployments: DeploymentView[] }) {
  if (!deployments.length) return <p class="muted">No deployment yet.</p>;
  return (
    <table class="deployments">
      <thead>
        <tr>
          <th scope="col">Deployment</th>
          <th scope="col">Version</th>
          <th scope="col">Path</th>
          <th scope="col">State</th>
          <th scope="col">Machines</th>
          <th scope="col">By</th>
          <th scope="col">When</th>
        </tr>
      </thead>
      <tbody>
        {deployments.map((d) => (
          <tr key={d.id}>
            <td>
              <Link href={`/roosts/deployment/${encodeURIComponent(d.id)}`}>{d.kind === "rollback" ? "rollback" : "deploy"} {d.id.slice(2, 10)}</Link>
            </td>
            <td>
              {d.roost}@{d.version}
            </td>
            <td>
              <code>{d.path}</code>
            </td>
            <td>
              <DeploymentState d={d} />
            </td>
            <td>{countsText(d)}</td>
            <td>{d.requestedBy}</td>
            <td>{ago(d.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
