import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { DirectiveListResponse, DirectiveView, FanOutAggregate } from "../../../protocol/api.ts";
import { AnsiRenderer } from "../ansi.ts";
import { messageOf, request } from "../api.ts";
import { bytes, dateTime, duration } from "../format.ts";
import { nameOf, onActivity } from "../live.ts";
import { sitePaths } from "../paths.ts";
import { mayRun } from "../permissions.ts";
import { role } from "../session.ts";
import { AggregateList } from "../components/AggregateList.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";
import { Output } from "../components/Output.tsx";
import { describeDirective, directiveHref, Outcome } from "../components/RecentDirectives.tsx";
import { DirectiveStatusBadge } from "../components/StatusBadge.tsx";

const ACTIVE = new Set(["queued", "sent", "running"]);

function Timeline({ d }: { d: DirectiveView }) {
  const steps: [string, number | null][] = [
    ["queued", d.createdAt],
    ["sent", d.sentAt],
    ["running", d.startedAt],
    [d.endedAt ? `ended: ${d.status.replace("_", " ")}` : "ended", d.endedAt],
  ];
  return (
    <ol class="timeline">
      {steps.map(([label, at], i) => {
        const prev = steps.slice(0, i).reverse().find(([, t]) => t !== null)?.[1] ?? null;
        return (
          <li key={label} class={at === null ? "not-yet" : undefined}>
            <span class="timeline-step">{label}</span>{" "}
            {at === null ? (
              <span class="muted">{ACTIVE.has(d.status) ? "not yet" : "skipped"}</span>
            ) : (
              <>
                <time dateTime={new Date(at).toISOString()}>{dateTime(at)}</time>
                {prev !== null && i > 0 ? <span class="muted small"> (+{duration(at - prev)})</span> : null}
              </>
            )}
          </li>
        );
      })}
    </ol>
  );
}

/** The other directives of the same fan-out, by machine name, each linked to its own page. */
function FanOutMembers({ site, d }: { site: string; d: DirectiveView }) {
  const [members, setMembers] = useState<DirectiveView[] | null>(null);
  const [aggregate, setAggregate] = useState<FanOutAggregate | null>(null);
  const [error, setError] = useState("");
  const fanoutId = d.fanoutId!;
  useEffect(() => {
    const paths = sitePaths(site);
    Promise.all([request<DirectiveListResponse>(paths.directives({ fanout: fanoutId, limit: 500 })), request<FanOutAggregate>(paths.fanout(fanoutId))]).then(
      ([list, agg]) => (setMembers(list.directives.sort((a, b) => nameOf(a.nodeId).localeCompare(nameOf(b.nodeId)))), setAggregate(agg)),
      (err) => setError(messageOf(err)),
    );
  }, [site, fanoutId, d.status]);
  if (error) return <Notice>{error}</Notice>;
  if (!members) return <p class="muted">Loading…</p>;
  return (
    <>
      {aggregate ? <AggregateList a={aggregate} /> : null}
      <ul class="plain-list fanout-members">
        {members.map((m) => (
          <li key={m.id} aria-current={m.id === d.id ? "true" : undefined}>
            {m.id === d.id ? <strong>{nameOf(m.nodeId)} (this one)</strong> : <Link href={directiveHref(m.id)}>{nameOf(m.nodeId)}</Link>} <Outcome d={m} />
          </li>
        ))}
      </ul>
    </>
  );
}

/** A directive given up as lost whose machine came back and reported how it ended after all. */
function LateResult({ late, id }: { late: NonNullable<DirectiveView["lateResult"]>; id: string }) {
  const renderer = new AnsiRenderer();
  const segments = late.output ? [...renderer.push(late.output), ...renderer.flush()] : [];
  return (
    <section class="panel" aria-labelledby="late-title">
      <h2 id="late-title">It finished after all</h2>
      <p>
        The machine reported on {dateTime(late.receivedAt)} that it {late.success ? "succeeded" : "failed"}
        {late.exitCode !== null ? ` (exit ${late.exitCode})` : ""}
        {late.error ? `: ${late.error}` : ""}.
      </p>
      {segments.length ? <Output segments={segments} label={`Late output of ${id}`} /> : null}
    </section>
  );
}

function Head({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <p class="crumbs">
        <Link href="/directives">Directives</Link> /
      </p>
      <h1 id="directive-title">{title}</h1>
      {children}
    </div>
  );
}

/** Everything the hub keeps about one directive: what was asked, by whom, when each step happened, and its output. */
export function DirectivePage({ site, id }: { site: string; id: string }) {
  const [d, setD] = useState<DirectiveView | null>(null);
  const [error, setError] = useState("");
  const [version, setVersion] = useState(0);
  const [cancelError, setCancelError] = useState("");

  useEffect(() => {
    request<DirectiveView>(sitePaths(site).directive(id)).then(
      (view) => (setD(view), setError("")),
      (err) => setError(messageOf(err)),
    );
  }, [site, id, version]);
  // Its activity entry changes when it ends: that is the moment to read it again.
  useEffect(() => onActivity((entry) => entry.directiveId === id && setVersion((v) => v + 1)), [id]);

  // The heading is drawn in the same place before and after the directive is read, so a focus moved to it stays.
  if (error || !d) {
    return (
      <section aria-labelledby="directive-title" class="detail">
        <Head title="Directive" />
        {error ? <Notice>{error}</Notice> : <p class="muted">Loading…</p>}
      </section>
    );
  }

  const renderer = new AnsiRenderer();
  const segments = d.output ? [...renderer.push(d.output), ...renderer.flush()] : [];
  const cancel = async () => {
    setCancelError("");
    try {
      await request(sitePaths(site).cancelDirective(d.id), { method: "POST" });
      setVersion((v) => v + 1);
    } catch (err) {
      setCancelError(messageOf(err));
    }
  };
  return (
    <section aria-labelledby="directive-title" class="detail">
      <Head title={`${d.action} on ${nameOf(d.nodeId)}`}>
        <DirectiveStatusBadge status={d.status} />
        {ACTIVE.has(d.status) && mayRun(role.value, d.action) ? (
          <button type="button" class="danger" onClick={cancel}>
            Cancel
          </button>
        ) : null}
      </Head>
      <Notice>{cancelError}</Notice>
      <div class="detail-grid">
        <section class="panel" aria-labelledby="what-title">
          <h2 id="what-title">What was asked</h2>
          <dl class="facts">
            <dt>Id</dt>
            <dd>
              <code>{d.id}</code>
            </dd>
            <dt>Machine</dt>
            <dd>
              <Link href={`/machines/${encodeURIComponent(d.nodeId)}`}>{nameOf(d.nodeId)}</Link>
              {nameOf(d.nodeId) !== d.nodeId ? <span class="muted small"> {d.nodeId}</span> : null}
            </dd>
            <dt>Action</dt>
            <dd>{d.action}</dd>
            <dt>What</dt>
            <dd class="mono">{describeDirective(d)}</dd>
            <dt>Requested by</dt>
            <dd>{d.requestedBy}</dd>
            <dt>Time limit</dt>
            <dd>{duration(d.timeoutMs)}</dd>
            {d.fanoutId ? (
              <>
                <dt>Fan-out</dt>
                <dd>
                  <Link href={`/directives?fanout=${encodeURIComponent(d.fanoutId)}`}>{d.fanoutId}</Link>
                </dd>
              </>
            ) : null}
          </dl>
          <h3>Parameters</h3>
          <pre class="params">{JSON.stringify(d.params, null, 2)}</pre>
        </section>
        <section class="panel" aria-labelledby="timeline-title">
          <h2 id="timeline-title">Timeline</h2>
          <Timeline d={d} />
          <p class="outcome">
            <Outcome d={d} />
          </p>
          {d.error ? <p class="error-text">{d.error}</p> : null}
        </section>
      </div>
      <section class="panel" aria-labelledby="output-title">
        <h2 id="output-title">Output</h2>
        <p class="muted small">
          {bytes(d.outputBytes)} {d.truncated ? "produced; the hub keeps the first 1 MiB" : "as stored by the hub"}
        </p>
        {d.outputWithheld ? (
          <p class="notice notice-info">Not shown to you: it came from outside the folders members may read, so only the site's admins see it.</p>
        ) : segments.length ? (
          <Output segments={segments} label={`Output of ${d.id}`} />
        ) : (
          <p class="muted">No output.</p>
        )}
        {d.data?.kind === "run" ? <p>Started run <code>{d.data.runId}</code>.</p> : null}
        {d.data?.kind === "image" ? <p class="muted">A {d.data.mediaType} image, not shown here.</p> : null}
      </section>
      {d.lateResult ? <LateResult late={d.lateResult} id={d.id} /> : null}
      {d.fanoutId ? (
        <section class="panel" aria-labelledby="fanout-title">
          <h2 id="fanout-title">The fan-out it belongs to</h2>
          <FanOutMembers site={site} d={d} />
        </section>
      ) : null}
    </section>
  );
}
