import { useState } from "preact/hooks";
import type { FanOutTarget } from "../../../../protocol/api.ts";
import type { DeploymentRequest, DeploymentView, VersionView } from "../../../../protocol/roost-api.ts";
import { messageOf, request } from "../../api.ts";
import { sitePaths } from "../../paths.ts";
import { navigate } from "../../router.ts";
import { Notice } from "../../components/Notice.tsx";

/**
 * Switches machines back to an earlier version they still keep: no download, the same canary rules as a
 * deployment. The machines and the folder default to those of the roost's latest deployment.
 */
export function RollbackForm({ site, roost, versions, last }: { site: string; roost: string; versions: VersionView[]; last: DeploymentView | null }) {
  const [version, setVersion] = useState(String(versions[1]?.version ?? versions[0]!.version));
  const [path, setPath] = useState(last?.path ?? "");
  const [nodes, setNodes] = useState("");
  const [canary, setCanary] = useState(String(last?.canaryPercent ?? 10));
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    const ids = nodes
      .split(",")
      .map((n) => n.trim())
      .filter(Boolean);
    const target: FanOutTarget = ids.length ? { nodes: ids } : { all: true };
    const body: DeploymentRequest = { version: Number(version), target, path, canaryPercent: Number(canary) };
    try {
      const d = await request<DeploymentView>(sitePaths(site).rollbacks(roost), { body });
      navigate(`/roosts/deployment/${encodeURIComponent(d.id)}`);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  return (
    <form class="panel rollback" onSubmit={submit} aria-labelledby="rollback-title">
      <h2 id="rollback-title">Roll back</h2>
      <p class="muted small">Machines switch to a version they still keep, checked file by file, without downloading anything.</p>
      <label>
        Version
        <select value={version} onChange={(e) => setVersion(e.currentTarget.value)}>
          {versions.map((v) => (
            <option key={v.version} value={v.version}>
              {v.version}
              {v.message ? ` — ${v.message}` : ""}
            </option>
          ))}
        </select>
      </label>
      <label>
        Folder on the machines
        <input required value={path} placeholder="/srv/app" onInput={(e) => setPath(e.currentTarget.value)} />
      </label>
      <label>
        Machines (ids, comma-separated; empty for all)
        <input value={nodes} onInput={(e) => setNodes(e.currentTarget.value)} />
      </label>
      <label>
        Canary share (%)
        <input type="number" min={0} max={100} value={canary} onInput={(e) => setCanary(e.currentTarget.value)} />
      </label>
      <button type="submit" class="danger" disabled={busy || !path}>
        Roll back to version {version}
      </button>
      <Notice>{error}</Notice>
    </form>
  );
}
