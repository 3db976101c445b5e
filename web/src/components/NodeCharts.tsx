import { useEffect, useRef, useState } from "preact/hooks";
import type { MetricsHistory, MetricsPoint } from "../../../protocol/metrics-history.ts";
import { METRICS_RANGES, type MetricsRange } from "../../../protocol/metrics-ranges.ts";
import { messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";
import { queryParam, updateQuery } from "../router.ts";
import { MetricsChart, type ChartSeries } from "./MetricsChart.tsx";
import { Notice } from "./Notice.tsx";

const pct = (part: number, whole: number) => (whole > 0 ? (part / whole) * 100 : null);

const RANGE_WORDS: Record<MetricsRange, string> = { "1h": "1 hour", "6h": "6 hours", "24h": "24 hours", "7d": "7 days" };

/** Points with gaps: a missing bucket becomes a null so the line breaks instead of bridging an outage. */
function withGaps(points: MetricsPoint[], bucketMs: number): (MetricsPoint | null)[] {
  const out: (MetricsPoint | null)[] = [];
  for (const p of points) {
    const prev = out[out.length - 1];
    if (prev && p.at - prev.at > bucketMs * 1.5) out.push(null);
    out.push(p);
  }
  return out;
}

function timesOf(points: (MetricsPoint | null)[], bucketMs: number): number[] {
  return points.map((p, i) => p?.at ?? points[i - 1]!.at + bucketMs);
}

const RANGES = Object.keys(METRICS_RANGES) as MetricsRange[];

function rangeOf(): MetricsRange {
  return RANGES.find((r) => r === queryParam("range")) ?? "24h";
}

/** The range is part of the address, so a zoomed view can be shared; the default (24 hours) leaves it out. */
function chooseRange(range: MetricsRange): void {
  updateQuery({ range: range === "24h" ? "" : range });
}

function RangePicker({ range }: { range: MetricsRange }) {
  return (
    <div class="range-picker" role="group" aria-label="Period shown">
      {RANGES.map((r) => (
        <button key={r} type="button" aria-pressed={r === range} onClick={() => chooseRange(r)}>
          {r}
        </button>
      ))}
    </div>
  );
}

/**
 * A node's CPU, memory, disk and GPU over the chosen period (1 hour to 7 days) from the hub's history: minutes up
 * to a day, quarter hours for a week. It is fetched once per period, then topped up when the live socket reports a
 * new heartbeat and a bucket has passed, so nothing polls.
 */
export function NodeCharts({ site, nodeId, heartbeatAt }: { site: string; nodeId: string; heartbeatAt: number | null }) {
  const range = rangeOf();
  const [history, setHistory] = useState<MetricsHistory | null>(null);
  const [error, setError] = useState("");
  const fetchedAt = useRef(0);

  async function load(since?: number) {
    fetchedAt.current = Date.now();
    try {
      const next = await request<MetricsHistory>(sitePaths(site).metrics(nodeId, { range, since }));
      setHistory((prev) => {
        if (!prev || !since || prev.range !== next.range) return next;
        const kept = prev.points.filter((p) => p.at < since && p.at >= Date.now() - next.windowMs);
        return { ...next, points: kept.concat(next.points) };
      });
      setError("");
    } catch (err) {
      setError(messageOf(err));
    }
  }

  useEffect(() => {
    setHistory(null);
    void load();
  }, [site, nodeId, range]);

  useEffect(() => {
    if (!history || heartbeatAt === null || Date.now() - fetchedAt.current < Math.min(history.bucketMs, 60_000)) return;
    const last = history.points[history.points.length - 1];
    void load(last ? last.at : undefined);
  }, [heartbeatAt]);

  return (
    <section class="panel" aria-labelledby="history-title">
      <div class="panel-head">
        <h2 id="history-title">Last {RANGE_WORDS[range]}</h2>
        <RangePicker range={range} />
      </div>
      {error ? (
        <Notice>Metrics history: {error}</Notice>
      ) : !history ? (
        <p class="muted">Loading metrics history…</p>
      ) : !history.points.length ? (
        <p class="muted">No metrics in the last {RANGE_WORDS[range]} yet: they arrive with the machine's heartbeats.</p>
      ) : (
        <Charts history={history} />
      )}
    </section>
  );
}

function Charts({ history }: { history: MetricsHistory }) {
  const points = withGaps(history.points, history.bucketMs);
  const times = timesOf(points, history.bucketMs);
  // Zoomed to the data: from the first point in the period (or the period's start) to now, but never narrower than
  // ten buckets, so a machine that started a minute ago is not drawn across a one-minute axis.
  const now = Date.now();
  const from = Math.max(now - METRICS_RANGES[history.range], Math.min(history.points[0]!.at, now - 10 * history.bucketMs));
  const common = { times, from, unit: "%", max: 100, period: RANGE_WORDS[history.range] };
  const avgAndPeak = (avg: (p: MetricsPoint) => number | null, peak: (p: MetricsPoint) => number | null): ChartSeries[] => [
    { label: "average", colorClass: "series-1", values: points.map((p) => (p ? avg(p) : null)) },
    { label: "peak", colorClass: "series-2", dash: true, values: points.map((p) => (p ? peak(p) : null)) },
  ];
  const hasGpu = history.points.some((p) => p.gpuAvg !== null);
  return (
    <div class="charts">
      <MetricsChart title="CPU" {...common} series={avgAndPeak((p) => p.cpuAvg, (p) => p.cpuMax)} />
      <MetricsChart
        title="Memory"
        {...common}
        series={avgAndPeak((p) => pct(p.memoryAvgMb, p.memoryTotalMb), (p) => pct(p.memoryMaxMb, p.memoryTotalMb))}
      />
      <MetricsChart
        title="Disk used"
        {...common}
        series={[{ label: "used", colorClass: "series-3", values: points.map((p) => (p ? pct(p.diskUsedAvgMb, p.diskTotalMb) : null)) }]}
      />
      {hasGpu ? <MetricsChart title="GPU" {...common} series={avgAndPeak((p) => p.gpuAvg, (p) => p.gpuMax)} /> : null}
    </div>
  );
}
