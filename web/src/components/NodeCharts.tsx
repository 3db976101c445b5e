import { useEffect, useRef, useState } from "preact/hooks";
import type { MetricsHistory, MetricsPoint } from "../../../protocol/metrics-history.ts";
import { messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";
import { MetricsChart } from "./MetricsChart.tsx";
import { Notice } from "./Notice.tsx";

const pct = (part: number, whole: number) => (whole > 0 ? (part / whole) * 100 : null);

/** Points with gaps: a missing minute becomes a null so the line breaks instead of bridging an outage. */
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

/**
 * The last 24 hours of a node from the hub's per-minute history. It is fetched once, then topped up when the live
 * socket reports a new heartbeat and a minute has passed, so nothing polls.
 */
export function NodeCharts({ site, nodeId, heartbeatAt }: { site: string; nodeId: string; heartbeatAt: number | null }) {
  const [history, setHistory] = useState<MetricsHistory | null>(null);
  const [error, setError] = useState("");
  const fetchedAt = useRef(0);

  async function load(since?: number) {
    fetchedAt.current = Date.now();
    try {
      const next = await request<MetricsHistory>(sitePaths(site).metrics(nodeId, since));
      setHistory((prev) => {
        if (!prev || !since) return next;
        const kept = prev.points.filter((p) => p.at < since && p.at >= Date.now() - next.retentionMs);
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
  }, [site, nodeId]);

  useEffect(() => {
    if (!history || heartbeatAt === null || Date.now() - fetchedAt.current < history.bucketMs) return;
    const last = history.points[history.points.length - 1];
    void load(last ? last.at : undefined);
  }, [heartbeatAt]);

  if (error) return <Notice>Metrics history: {error}</Notice>;
  if (!history) return <p class="muted">Loading metrics history…</p>;
  if (!history.points.length) return <p class="muted">No metrics in the last 24 hours yet: they arrive with the machine's heartbeats.</p>;

  const points = withGaps(history.points, history.bucketMs);
  const times = timesOf(points, history.bucketMs);
  const hasGpu = history.points.some((p) => p.gpuAvg !== null);
  return (
    <div class="charts">
      <MetricsChart
        title="CPU"
        unit="%"
        max={100}
        times={times}
        series={[
          { label: "average", colorClass: "series-1", values: points.map((p) => p?.cpuAvg ?? null) },
          { label: "peak", colorClass: "series-2", dash: true, values: points.map((p) => p?.cpuMax ?? null) },
        ]}
      />
      <MetricsChart
        title="Memory"
        unit="%"
        max={100}
        times={times}
        series={[
          { label: "average", colorClass: "series-1", values: points.map((p) => (p ? pct(p.memoryAvgMb, p.memoryTotalMb) : null)) },
          { label: "peak", colorClass: "series-2", dash: true, values: points.map((p) => (p ? pct(p.memoryMaxMb, p.memoryTotalMb) : null)) },
        ]}
      />
      <MetricsChart
        title="Disk used"
        unit="%"
        max={100}
        times={times}
        series={[{ label: "used", colorClass: "series-3", values: points.map((p) => (p ? pct(p.diskUsedAvgMb, p.diskTotalMb) : null)) }]}
      />
      {hasGpu ? (
        <MetricsChart
          title="GPU"
          unit="%"
          max={100}
          times={times}
          series={[
            { label: "average", colorClass: "series-1", values: points.map((p) => p?.gpuAvg ?? null) },
            { label: "peak", colorClass: "series-2", dash: true, values: points.map((p) => p?.gpuMax ?? null) },
          ]}
        />
      ) : null}
    </div>
  );
}
