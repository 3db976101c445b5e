import type { FanOutAggregate } from "../../../protocol/api.ts";

const AGGREGATE_LABELS: [keyof FanOutAggregate, string, string][] = [
  ["total", "machine", "machines"],
  ["succeeded", "succeeded", "succeeded"],
  ["failed", "failed", "failed"],
  ["offline", "offline", "offline"],
  ["refused", "refused by tier", "refused by tier"],
  ["cancelled", "cancelled", "cancelled"],
  ["timedOut", "timed out", "timed out"],
  ["lost", "lost", "lost"],
  ["skippedOffline", "offline, not asked", "offline, not asked"],
];

/** A fan-out's totals, with the words agreeing with the numbers ("1 machine"). */
export function AggregateList({ a }: { a: FanOutAggregate }) {
  return (
    <ul class="aggregate" aria-label="Summary">
      {AGGREGATE_LABELS.filter(([k]) => k === "total" || a[k] !== 0).map(([k, one, many]) => (
        <li key={k} class={`agg-${k}`}>
          <strong>{a[k]}</strong> {a[k] === 1 ? one : many}
        </li>
      ))}
    </ul>
  );
}
