import { useEffect, useState } from "preact/hooks";
import type { DeploymentEvent, DeploymentView, TargetView } from "../../../../protocol/roost-api.ts";
import { countTargets } from "../../../../protocol/roost-counts.ts";
import { messageOf, request } from "../../api.ts";
import { ago } from "../../format.ts";
import { sitePaths } from "../../paths.ts";
import { canDeploy } from "../../permissions.ts";
import { role } from "../../session.ts";
import { getEvents } from "../../sse.ts";
import { Link } from "../../components/Link.tsx";
import { Notice } from "../../components/Notice.tsx";
import { bytes } from "./bytes.ts";
import { countsText, DeploymentState } from "./DeploymentTable.tsx";

const TARGET_TONE: Record<TargetView["status"], string> = {
  pending: "off",
  waiting: "off",
  running: "pending",
  done: "ok",
  failed: "bad",
  skipped: "gone",
};

function apply(d: DeploymentView, e: DeploymentEvent): DeploymentView {
  if (e.event === "snapshot" || e.event === "end") return e.deployment;
  if (e.event === "state") return { ...e.deployment, targets: d.targets };
  const targets = (d.targets ?? []).map((t) => (t.nodeId === e.target.nodeId ? e.target : t));
  return { ...d, targets, counts: countTargets(targets) };
}

function Progress({ t }: { t: TargetView }) {
  const p = t.progress;
  if (!p || t.status !== "running") return <span class="muted">{t.status === "done" ? "in place" : "—"}</span>;
  return (
    <span class="roost-progress">
      <span class="phase">{p.phase}</span>
      {p.bytesTotal > 0 ? (
        <>
          <progress value={p.bytesDone} max={p.bytesTotal} aria-label={`${t.nodeId} ${p.phase}`} />
          <span class="small">
            {bytes(p.bytesDone)} / {bytes(p.bytesTotal)} · {p.chunksDone}/{p.chunksTotal} chunks
          </span>
        </>
      ) : null}
    </span>
  );
}

/** One deployment, live: the canary's state, each machine's phase and bytes, promote and abort for admins. */
export function DeploymentDetail({ site, id }: { site: string; id: string }) {
  const [d, setD] = useState<DeploymentView | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const paths = sitePaths(site);

  useEffect(() => {
    const controller = new AbortController();
    (async () => {
      try {
        setD(await request<DeploymentView>(paths.deployment(id)));
        for await (const event of await getEvents<DeploymentEvent>(paths.deploymentEvents(id), controller.signal)) {
          setD((prev) => (prev ? apply(prev, event) : event.event === "snapshot" || event.event === "end" ? event.deployment : prev));
        }
      } catch (err) {
        if (!controller.signal.aborted) setError(messageOf(err));
      }
    })();
    return () => controller.abort();
  }, [site, id]);

  async function act(path: string) {
    setBusy(true);
    try {
      const next = await request<DeploymentView>(path, { method: "POST" });
      setD((prev) => ({ ...next, targets: prev?.targets ?? next.targets }));
      setError("");
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  if (!d) return error ? <Notice>{error}</Notice> : <p class="loading">Loading…</p>;
  const c = d.counts;
  const canSteer = canDeploy(role.value);
  return (
    <section aria-labelledby="deployment-title">
      <div class="page-head">
        <h1 id="deployment-title">
          {d.kind === "rollback" ? "Rollback" : "Deployment"} of <Link href={`/roosts/${encodeURIComponent(d.roost)}`}>{d.roost}</Link>@{d.version}
        </h1>
        {canSteer ? (
          <div class="page-actions">
            {d.state === "canary" || d.state === "held" ? (
              <button type="button" disabled={busy} onClick={() => act(paths.promote(d.id))}>
                Promote
              </button>
            ) : null}
            {d.state !== "aborted" && (d.state !== "completed" || c.waiting > 0) ? (
              <button type="button" class="danger" disabled={busy} onClick={() => act(paths.abort(d.id))}>
                Abort
              </button>
            ) : null}
          </div>
        ) : null}
      </div>
      <Notice>{error}</Notice>
      <p role="status">
        <DeploymentState d={d} /> {countsText(d)}
        {d.reason ? <span class="small"> — {d.reason}</span> : null}
      </p>
      <dl class="facts deployment-facts">
        <dt>Folder</dt>
        <dd>
          <code>{d.path}</code>
        </dd>
        <dt>Canary</dt>
        <dd>
          {c.canary ? `${c.canary} machine(s) first: ${c.canaryDone} done, ${c.canaryFailed} failed; the rest follow at ${d.promoteAtPercent}% success` : "none"}
        </dd>
        <dt>Stops</dt>
        <dd>when more than {d.abortAbovePercent}% of the machines tried fail</dd>
        {d.after ? (
          <>
            <dt>After</dt>
            <dd>
              <code>{d.after}</code>
            </dd>
          </>
        ) : null}
        <dt>By</dt>
        <dd>
          {d.requestedBy}, {ago(d.createdAt)}
        </dd>
      </dl>
      <table class="targets">
        <thead>
          <tr>
            <th scope="col">Machine</th>
            <th scope="col">Wave</th>
            <th scope="col">Status</th>
            <th scope="col">Progress</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {(d.targets ?? []).map((t) => (
            <tr key={t.nodeId} data-node={t.nodeId}>
              <td>
                <Link href={`/machines/${encodeURIComponent(t.nodeId)}`}>{t.nodeId}</Link>
              </td>
              <td>{t.wave}</td>
              <td>
                <span class={`badge tone-${TARGET_TONE[t.status]}`}>{t.status}</span>
              </td>
              <td>
                <Progress t={t} />
              </td>
              <td class="small">{t.error ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
