import type { AutonomyEventListResponse, AutonomyEventView, AutonomyStatus, ChannelState } from "../../../protocol/autonomy.ts";
import { dateTime } from "../format.ts";
import { usePagedList } from "../paged-list.ts";
import { sitePaths } from "../paths.ts";
import { queryParam, updateQuery } from "../router.ts";
import { FilterSelect, MachineFilter } from "../components/Filters.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";

const STATUSES: AutonomyStatus[] = ["investigating", "resolved", "escalated", "failed", "skipped", "recorded"];

const TONE: Record<AutonomyStatus, string> = {
  investigating: "pending",
  resolved: "ok",
  escalated: "bad",
  failed: "bad",
  skipped: "off",
  recorded: "off",
};

const TRIGGER: Record<AutonomyEventView["trigger"], string> = {
  crashed: "crashed",
  start_failed: "failed to start",
  gave_up: "gave up (crash loop)",
  alert_firing: "alert firing",
  alert_resolved: "alert resolved",
};

function channel(name: string, c: ChannelState): string | null {
  return c.status === "none" ? null : `${name} ${c.status}${c.detail && c.status !== "sent" ? ` (${c.detail})` : ""}`;
}

function Outcome({ e }: { e: AutonomyEventView }) {
  const escalation = [channel("email", e.escalation.email), channel("webhook", e.escalation.webhook)].filter(Boolean).join(", ");
  return (
    <>
      <span class={`badge tone-${TONE[e.status]}`}>{e.status === "skipped" && e.skipReason ? `skipped: ${e.skipReason}` : e.status}</span>
      {escalation ? <div class="small muted">{escalation}</div> : null}
    </>
  );
}

function What({ e }: { e: AutonomyEventView }) {
  return (
    <>
      {e.verdict ? (
        <p class="message">{e.verdict.summary}</p>
      ) : e.verdictWithheld ? (
        <p class="message muted">The verdict is withheld: the investigation read outside the paths you may read. A site admin sees it.</p>
      ) : e.reason ? (
        <p class="message muted">{e.reason}</p>
      ) : (
        <p class="message muted">{e.detail}</p>
      )}
      {e.actions.length ? (
        <p class="small muted">
          Tools:{" "}
          {e.actions.map((a, i) => (
            <span key={i}>
              {i ? ", " : ""}
              <code>{a.tool}</code> (tier {a.tier}, {a.status})
            </span>
          ))}
        </p>
      ) : null}
    </>
  );
}

/** Events that reached the autonomy guards, newest first: what was investigated, how it ended, what was skipped and why. */
export function Autonomy({ site }: { site: string }) {
  const status = queryParam("status") ?? "";
  const node = queryParam("node") ?? "";
  const { items: events, page, next, error, busy, load } = usePagedList(
    (before?: number) => sitePaths(site).autonomyEvents({ status, node, before, limit: 50 }),
    (answer: AutonomyEventListResponse) => answer.events,
    [site, status, node],
  );

  const filtered = Boolean(status || node);
  return (
    <section aria-labelledby="autonomy-title">
      <div class="page-head">
        <h1 id="autonomy-title">Autonomous investigations</h1>
        <button type="button" onClick={() => load()} disabled={busy}>
          Show newest
        </button>
      </div>
      <p class="muted small">
        Crashes, failed starts and give-ups of supervised processes, and Alertmanager alerts, as the site's guards decided them.{" "}
        <Link href="/settings/site#autonomy-title">Settings</Link>
      </p>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <FilterSelect label="Outcome" value={status} all="all outcomes" options={STATUSES} onChange={(v) => updateQuery({ status: v })} />
        <MachineFilter value={node} onChange={(v) => updateQuery({ node: v })} />
      </form>
      <Notice>{error}</Notice>
      {events === null || page === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <p class="muted small" aria-live="polite">
            {page.active} of {page.maxActive} investigations running now.
          </p>
          {events.length === 0 ? (
            <p class="empty">Nothing recorded{filtered ? " that matches these filters" : " yet"}.</p>
          ) : (
            <table class="activity autonomy-events">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Machine</th>
                  <th scope="col">What</th>
                  <th scope="col">Outcome</th>
                  <th scope="col">Verdict or reason</th>
                  <th scope="col">Investigation</th>
                </tr>
              </thead>
              <tbody>
                {events.map((e) => (
                  <tr key={e.id} id={e.id}>
                    <td data-label="When" class="small nowrap">
                      {dateTime(e.createdAt)}
                    </td>
                    <td data-label="Machine">{e.nodeId ? <Link href={`/machines/${encodeURIComponent(e.nodeId)}`}>{e.nodeId}</Link> : <span class="muted">none matched</span>}</td>
                    <td data-label="What">
                      <strong>{e.subject}</strong> {TRIGGER[e.trigger]}
                      {e.duplicates ? <div class="small muted">repeated {e.duplicates}×</div> : null}
                    </td>
                    <td data-label="Outcome">
                      <Outcome e={e} />
                    </td>
                    <td data-label="Verdict or reason">
                      <What e={e} />
                    </td>
                    <td data-label="Investigation" class="small">
                      {e.conversationId ? <Link href={`/chat/${encodeURIComponent(e.conversationId)}`}>Open the conversation</Link> : <span class="muted">—</span>}
                      {e.usage ? (
                        <div class="muted">
                          {e.usage.inputTokens + e.usage.outputTokens} tokens
                        </div>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {next !== null ? (
            <button type="button" class="more" onClick={() => load(next)} disabled={busy}>
              Older events
            </button>
          ) : null}
        </>
      )}
    </section>
  );
}
