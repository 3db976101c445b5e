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
  /** The left edge of the chart (ms): the first point, or the start of the period when data reaches further back. */
  from: number;
  /** The period in words, for screen readers. */
  period: string;
}

const HEIGHT = 180;

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

function optionsOf(props: () => ChartProps, width: number): uPlot.Options {
  const axis = colorFrom("chart-axis");
  const grid = colorFrom("chart-grid");
  const first = props();
  return {
    width,
    height: HEIGHT,
    legend: { show: true, live: true },
    cursor: { drag: { x: false, y: false } },
    // Zoomed to the data: a machine that started an hour ago fills the chart whatever the period picked.
    scales: {
      x: { time: true, range: () => [props().from / 1000, Date.now() / 1000] },
      y: first.max !== undefined ? { range: [0, first.max] } : { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
    },
    axes: [
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56, values: (_u, ticks) => ticks.map((t) => `${Math.round(t)}${first.unit}`) },
    ],
    series: [
      {},
      ...first.series.map((s) => ({
        label: s.label,
        stroke: colorFrom(s.colorClass),
        width: 1.5,
        dash: s.dash ? [4, 4] : undefined,
        value: (_u: uPlot, v: number | null) => (v === null ? "—" : `${v.toFixed(1)}${first.unit}`),
      })),
    ],
  };
}

/** The newest value of a series, so the latest figures show without hovering. */
function latest(values: (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i]!;
  return null;
}

/**
 * A time-series chart drawn by uPlot on a canvas, with the latest values written under its title. uPlot sets sizes
 * through the style object, which a strict Content-Security-Policy allows (only inline style attributes and
 * elements are refused).
 */
export function MetricsChart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const current = useRef(props);
  current.current = props;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let disposed = false;
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: widthOf(el), height: HEIGHT }));
    void loadUPlot().then((UPlot) => {
      if (disposed) return;
      plot.current = new UPlot(optionsOf(() => current.current, widthOf(el)), dataOf(current.current), el);
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
  }, [props.times, props.series, props.from]);

  const now = props.series.map((s) => ({ label: s.label, value: latest(s.values) }));
  return (
    <figure class="chart" data-from={props.from}>
      <figcaption>
        {props.title}
        <span class="chart-latest">
          {now.map((s) => (
            <span key={s.label}>
              {" "}
              {s.label} <strong>{s.value === null ? "—" : `${s.value.toFixed(1)}${props.unit}`}</strong>
            </span>
          ))}
        </span>
      </figcaption>
      <div ref={host} class="chart-canvas" role="img" aria-label={`${props.title}, last ${props.period}`} />
    </figure>
  );
}
