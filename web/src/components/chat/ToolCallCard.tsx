import { useState } from "preact/hooks";
import type { MachineResult, ToolCallStatus, ToolCallView } from "../../../../protocol/chat.ts";
import { messageOf, request } from "../../api.ts";
import { revealHidden } from "../../../../protocol/hidden-characters.ts";
import { decisionText, hiddenInInput, parameterText, toolTargetText, type NameOf } from "../../chat/chat-format.ts";
import { time } from "../../format.ts";
import { Notice } from "../Notice.tsx";

const TONE: Record<ToolCallStatus, string> = {
  proposed: "pending",
  awaiting_confirmation: "pending",
  approved: "pending",
  running: "pending",
  done: "ok",
  failed: "bad",
  refused: "bad",
  denied: "off",
  expired: "off",
  cancelled: "off",
};

const LABEL: Record<ToolCallStatus, string> = {
  proposed: "proposed",
  awaiting_confirmation: "needs approval",
  approved: "approved",
  running: "running",
  done: "done",
  failed: "failed",
  refused: "refused",
  denied: "denied",
  expired: "expired",
  cancelled: "cancelled",
};

function Parameters({ input }: { input: Record<string, unknown> }) {
  const entries = Object.entries(input);
  if (!entries.length) return <p class="muted small">No parameters.</p>;
  return (
    <dl class="tool-params">
      {entries.map(([name, value]) => (
        <div key={name}>
          <dt>{revealHidden(name).text}</dt>
          <dd>
            <pre>{parameterText(value).text}</pre>
          </dd>
        </div>
      ))}
    </dl>
  );
}

function resultHeading(r: MachineResult): string {
  const exit = r.exitCode === null ? "" : `, exit ${r.exitCode}`;
  return `${r.status}${exit}`;
}

function ResultOutput({ result }: { result: MachineResult }) {
  return (
    <>
      {result.error ? <p class="tool-error">{result.error}</p> : null}
      {result.output ? (
        <pre class="tool-output" tabIndex={0}>
          {result.output}
        </pre>
      ) : result.error ? null : (
        <p class="muted small">No output.</p>
      )}
      {result.truncated ? <p class="muted small">The output was cut to its size limit.</p> : null}
    </>
  );
}

/** Per-machine results of a site-wide call, grouped as the hub grouped them (machines that answered the same). */
function MachineResults({ results, nameOf }: { results: MachineResult[]; nameOf: NameOf }) {
  return (
    <ul class="machine-results">
      {results.map((r, i) => {
        const names = r.nodeIds.map(nameOf);
        const who = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
        return (
          <li key={i} data-status={r.status}>
            <details>
              <summary>
                <span class="machine-names" title={names.join(", ")}>
                  {who}
                </span>{" "}
                <span class={`badge tone-${r.status === "done" ? "ok" : r.status === "failed" || r.status === "lost" || r.status === "refused" || r.status === "timed_out" ? "bad" : "off"}`}>
                  {resultHeading(r)}
                </span>
                {names.length > 1 ? <span class="muted small"> {names.length} machines</span> : null}
              </summary>
              <ResultOutput result={r} />
            </details>
          </li>
        );
      })}
    </ul>
  );
}

/** Approve or deny a tier-3 call: the tool, its exact parameters and where it would run, then two buttons. */
function Confirmation({ call, nameOf, decide }: { call: ToolCallView; nameOf: NameOf; decide: ((approve: boolean) => Promise<void>) | null }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const titleId = `confirm-${call.id}`;
  const hidden = hiddenInInput(call.input);
  async function choose(approve: boolean) {
    if (!decide) return;
    setBusy(true);
    setError("");
    try {
      await decide(approve);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }
  return (
    <div class="confirm-card" role="group" aria-labelledby={titleId} data-tool-call={call.id}>
      <p id={titleId} class="confirm-title">
        Run <code>{call.name}</code> {toolTargetText(call.target, nameOf)}?
      </p>
      <p class="muted small">Tier 3: it runs only if approved.{call.expiresAt ? ` Counts as denied if nobody decides by ${time(call.expiresAt)}.` : ""}</p>
      <Parameters input={call.input} />
      {hidden ? (
        <p class="confirm-warning" role="alert">
          {hidden} hidden or direction-changing character{hidden === 1 ? "" : "s"}, shown as ⟨U+…⟩. Read the parameters twice: they may not be what
          they seem.
        </p>
      ) : null}
      {decide ? (
        <div class="button-row">
          <button type="button" class="primary" disabled={busy} onClick={() => choose(true)}>
            Approve
          </button>
          <button type="button" disabled={busy} onClick={() => choose(false)}>
            Deny
          </button>
        </div>
      ) : (
        <p class="muted small">Waiting for the conversation's owner to approve or deny.</p>
      )}
      <Notice>{error}</Notice>
    </div>
  );
}

export interface ToolCallCardProps {
  call: ToolCallView;
  nameOf: NameOf;
  /** Where to send a decision; null when the viewer may not decide (not the owner, or not allowed tier 3). */
  decidePath: string | null;
}

/** One tool call: collapsed to a line with its status; open for its parameters and output. */
export function ToolCallCard({ call, nameOf, decidePath }: ToolCallCardProps) {
  const where = toolTargetText(call.target, nameOf);
  if (call.status === "awaiting_confirmation") {
    const decide = decidePath ? async (approve: boolean) => void (await request(decidePath, { body: { approve } })) : null;
    return <Confirmation call={call} nameOf={nameOf} decide={decide} />;
  }
  const single = "node" in call.target && call.results.length === 1 ? call.results[0]! : null;
  const decision = decisionText(call, call.decidedAt ? time(call.decidedAt) : null);
  return (
    <details class="tool-card" data-status={call.status} data-tool={call.name}>
      <summary>
        <span class={`badge tone-${TONE[call.status]}`}>{LABEL[call.status]}</span> <code>{call.name}</code> <span class="muted">{where}</span>
        {call.tier > 1 ? <span class="tier-tag">tier {call.tier}</span> : null}
      </summary>
      <div class="tool-body">
        <h4>Parameters</h4>
        <Parameters input={call.input} />
        {decision ? <p class="muted small">{decision}</p> : null}
        {call.error && !call.decidedBy ? <p class="tool-error">{call.error}</p> : null}
        {single ? (
          <>
            <h4>Output</h4>
            <ResultOutput result={single} />
          </>
        ) : call.hubAnswer !== null ? (
          <>
            <h4>Answer</h4>
            <p class="muted small">Run by the hub; the model got this as data.</p>
            <pre class="tool-output" tabIndex={0}>
              {call.hubAnswer}
            </pre>
          </>
        ) : call.results.length ? (
          <>
            <h4>Machines</h4>
            <MachineResults results={call.results} nameOf={nameOf} />
          </>
        ) : null}
      </div>
    </details>
  );
}
