import { useEffect, useRef } from "preact/hooks";
import type uPlot from "uplot";

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** CSS class whose `color` is the line's colour, so the palette lives in the stylesheet. */
  colorClass: string;
  dash?: boolean;
}

interface ChartProps {
  title: string;
  times: number[];
  series: ChartSeries[];
  unit: string;
  max?: number;
}

const HEIGHT = 180;
const WINDOW_MS = 24 * 3600_000;

/** uPlot is most of the dashboard's weight and only machine pages draw charts, so it loads on first use. */
let uPlotModule: Promise<typeof uPlot> | null = null;
function loadUPlot(): Promise<typeof uPlot> {
  return (uPlotModule ??= import("uplot").then((m) => m.default));
}

function colorFrom(cls: string): string {
  const probe = document.createElement("span");
  probe.className = cls;
  probe.hidden = true;
  document.body.append(probe);
  const color = getComputedStyle(probe).color;
  probe.remove();
  return color;
}

function widthOf(el: HTMLElement): number {
  return Math.max(240, el.clientWidth);
}

function dataOf(props: ChartProps): uPlot.AlignedData {
  return [props.times.map((t) => t / 1000), ...props.series.map((s) => s.values)];
}

function optionsOf(props: ChartProps, width: number): uPlot.Options {
  const axis = colorFrom("chart-axis");
  const grid = colorFrom("chart-grid");
  return {
    width,
    height: HEIGHT,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    // Always the whole window, so a machine that just started shows a short line at the right, not a stretched one.
    scales: { x: { time: true, range: () => [(Date.now() - WINDOW_MS) / 1000, Date.now() / 1000] }, y: props.max !== undefined ? { range: [0, props.max] } : { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, values: (_u, ticks) => ticks.map((t) => `${Math.round(t)}${props.unit}`) },
    ],
    series: [
      {},
      ...props.series.map((s) => ({
        label: s.label,
        stroke: colorFrom(s.colorClass),
        width: 1.5,
        dash: s.dash ? [4, 4] : undefined,
        value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${v.toFixed(1)}${props.unit}`),
      })),
    ],
  };
}

/**
 * A time-series chart drawn by uPlot on a canvas. uPlot sets sizes through the style object, which a strict
 * Content-Security-Policy allows (only inline style attributes and elements are refused).
 */
export function MetricsChart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let disposed = false;
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: widthOf(el), height: HEIGHT }));
    void loadUPlot().then((UPlot) => {
      if (disposed) return;
      plot.current = new UPlot(optionsOf(latest.current, widthOf(el)), dataOf(latest.current), el);
      resize.observe(el);
    });
    return () => {
      disposed = true;
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [props.series.length, props.unit, props.max]);

  useEffect(() => {
    plot.current?.setData(dataOf(props));
  }, [props.times, props.series]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={host} class="chart-canvas" role="img" aria-label={`${props.title}, last 24 hours`} />
    </figure>
  );
}
