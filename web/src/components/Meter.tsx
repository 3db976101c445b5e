import { percent } from "../format.ts";

/** A labelled gauge: the bar is a native <meter>, and the figures are also written out for screen readers. */
export function Meter({ label, value, detail }: { label: string; value: number | null; detail?: string }) {
  if (value === null) {
    return (
      <div class="meter meter-empty">
        <span class="meter-label">{label}</span>
        <span class="meter-value">—</span>
      </div>
    );
  }
  const clamped = Math.max(0, Math.min(100, value));
  return (
    <div class="meter">
      <span class="meter-label">{label}</span>
      <meter min={0} max={100} low={70} high={90} optimum={0} value={clamped} aria-label={`${label} ${percent(clamped)}`} />
      <span class="meter-value">
        {percent(clamped)}
        {detail ? <span class="meter-detail"> {detail}</span> : null}
      </span>
    </div>
  );
}
