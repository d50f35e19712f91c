// uPlot charts sized to their container: a chart with `fill` takes the whole box it is in
// (a dashboard panel) and follows it on every resize, width and height; otherwise it has a
// fixed height and follows the width. The table beside every chart on the analysis page
// carries the same figures for screen readers and keyboard users.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const palette = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export interface LineSeries {
  label: string;
  points: { t: number; value: number }[];  // t: seconds since the epoch
  dashed?: boolean;
  fill?: boolean;
  color?: string;
  faint?: boolean;  // a band's edge: a thin, light line
  noLegend?: boolean;  // not listed in the legend (the second edge of a band)
}

// Aligns series on the union of their times; a series without a point there gets null.
export function align(series: LineSeries[]): uPlot.AlignedData {
  const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const columns = series.map((s) => {
    const col: (number | null)[] = new Array(times.length).fill(null);
    for (const p of s.points) col[index.get(p.t)!] = p.value;
    return col;
  });
  return [times, ...columns] as uPlot.AlignedData;
}

// Tick labels that stay short: 12,500 → "12.5K", 3,400,000 → "3.4M".
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const plain = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
export const tickNumber = (v: number) => (Math.abs(v) >= 10_000 ? compact.format(v) : plain.format(v));

// The y axis: compact ticks, as wide as its longest tick, an optional label (the unit).
function yAxis(label: string | undefined, showLabel: boolean): uPlot.Axis {
  return {
    values: (_u, splits) => splits.map(tickNumber),
    size: (_u, values) => 14 + 7.5 * Math.max(3, ...(values ?? []).map((v) => String(v).length)),
    label: showLabel ? label : undefined,
    labelSize: showLabel && label ? 18 : 0,
    labelFont: '12px system-ui, sans-serif',
    font: '12px system-ui, sans-serif',
    gap: 4,
  };
}

const xFont = { font: '12px system-ui, sans-serif', gap: 4 };

interface Sized { height?: number; fill?: boolean }

const kLegendMin = 150;  // px of panel below which a filling chart shows no legend

// `make(width, height)` builds the plot; it is rebuilt when `deps` change and resized
// (never rebuilt) when its box changes.
function useUplot(make: (width: number, height: number) => uPlot | null, deps: unknown[], sized: Sized) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current!;
    // With `fill` the plot takes the box minus what uPlot adds below the canvas (the legend).
    const legendHeight = (p: uPlot) => (p.root.querySelector('.u-legend') as HTMLElement | null)?.offsetHeight ?? 0;
    const box = (p: uPlot | null) => {
      // A low panel gives the plot all its height: the legend is hidden (.chart.compact).
      el.classList.toggle('compact', sized.fill === true && el.clientHeight < kLegendMin);
      return {
        width: Math.max(120, el.clientWidth),
        height: sized.fill ? Math.max(60, el.clientHeight - (p ? legendHeight(p) : 0)) : (sized.height ?? 280),
      };
    };
    const first = box(null);
    let plot = make(first.width, first.height);
    if (plot) {
      el.appendChild(plot.root);
      if (sized.fill) plot.setSize(box(plot));
    }
    const ro = new ResizeObserver(() => {
      if (!plot) return;
      const b = box(plot);
      if (b.width !== plot.width || b.height !== plot.height) plot.setSize(b);
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot?.destroy();
      plot = null;
    };
  }, deps);
  return host;
}

// `xRange`: the period shown, in epoch seconds (else the data's own span).
export function LineChart(p: Sized & { series: LineSeries[]; label: string; legend?: boolean; yLabel?: string; bands?: [number, number][]; xRange?: [number, number] }) {
  const host = useUplot(
    (width, height) => {
      const plot = new uPlot(
        {
          width,
          height,
          legend: { show: p.legend ?? true, live: false },
          cursor: { drag: { x: true, y: false } },
          scales: { x: p.xRange ? { time: true, range: () => p.xRange! } : { time: true } },
          series: [
            {},
            ...p.series.map((s, i) => {
              const color = s.color ?? palette[i % palette.length];
              return {
                label: s.label,
                stroke: s.faint ? color + '55' : color,
                width: s.faint ? 1 : 2,
                dash: s.dashed ? [6, 4] : undefined,
                fill: s.fill ? color + '33' : undefined,
                spanGaps: true,
                points: { show: !s.faint && s.points.length < 40 },
              };
            }),
          ],
          // A band is drawn between two series (indices into p.series).
          bands: p.bands?.map(([hi, lo]) => ({ series: [hi + 1, lo + 1] as [number, number], fill: (p.series[hi].color ?? palette[hi % palette.length]) + '22' })),
          axes: [xFont, yAxis(p.yLabel, height >= 150)],
        },
        align(p.series),
      );
      // With a legend that is not live, uPlot gives the x series no row: row i is series i.
      const rows = plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
      p.series.forEach((s, i) => { if (s.noLegend && rows[i]) rows[i].style.display = 'none'; });
      return plot;
    },
    [p.series, p.height, p.yLabel],
    p,
  );
  return <div class={`chart${p.fill ? ' fill' : ''}`} ref={host} role="img" aria-label={p.label} />;
}

// Labelled bars from zero: the y scale always includes 0, so a bar's height is proportional
// to its value; each bar carries its value; labels are shortened with … to the bar's width.
export function BarChart(p: Sized & { labels: string[]; values: number[]; label: string; yLabel?: string }) {
  const host = useUplot((width, height) => {
    const xs = p.labels.map((_, i) => i);
    const ratio = () => window.devicePixelRatio || 1;
    return new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { show: false },
        scales: {
          x: { time: false, range: [-0.5, p.labels.length - 0.5] },
          y: {
            range: (_u, min, max) => {
              const lo = Math.min(0, min), hi = Math.max(0, max, lo + 1);
              const [a, b] = uPlot.rangeNum(lo, hi, 0.12, true) as [number, number];
              return [lo === 0 ? 0 : a, hi === 0 ? 0 : b];
            },
          },
        },
        series: [
          {},
          { label: 'value', fill: palette[0] + 'cc', stroke: palette[0], fillTo: 0, paths: uPlot.paths.bars!({ size: [0.6, 90] }), points: { show: false } },
        ],
        axes: [
          {
            ...xFont,
            splits: () => xs,
            values: (u, splits) => {
              const room = u.bbox.width / ratio() / Math.max(1, p.labels.length);  // CSS px per bar
              const chars = Math.max(3, Math.floor(room / 7));
              return splits.map((i) => {
                const s = p.labels[i] ?? '';
                return s.length > chars ? s.slice(0, chars - 1) + '…' : s;
              });
            },
          },
          yAxis(p.yLabel, height >= 150),
        ],
        hooks: {
          draw: [
            (u) => {
              const ctx = u.ctx;
              ctx.save();
              ctx.font = `${12 * ratio()}px system-ui, sans-serif`;
              ctx.fillStyle = '#111827';
              ctx.textAlign = 'center';
              p.values.forEach((v, i) => {
                const x = u.valToPos(i, 'x', true), y = u.valToPos(v, 'y', true);
                ctx.textBaseline = v >= 0 ? 'bottom' : 'top';
                ctx.fillText(tickNumber(v), x, y + (v >= 0 ? -3 : 3) * ratio());
              });
              ctx.restore();
            },
          ],
        },
      },
      [xs, p.values],
    );
  }, [p.labels, p.values, p.height], p);
  return (
    <div class={`chart${p.fill ? ' fill' : ''}`} ref={host} role="img" aria-label={p.label}
      title={p.labels.map((l, i) => `${l}: ${p.values[i]}`).join('\n')} />
  );
}

// The band around a least-squares forecast: ± 2 standard errors of the history's residuals
// from the fitted line (the API gives the line's points and R², not the band; this is the
// usual prediction-band approximation, a few lines, no library needed for it).
export function forecastBand(history: { t: number; value: number }[], forecast: { t: number; value: number }[]) {
  if (forecast.length < 2 || history.length < 3) return null;
  const [a, b] = forecast;
  const slope = (b.value - a.value) / (b.t - a.t || 1);
  const at = (t: number) => a.value + slope * (t - a.t);
  const sse = history.reduce((s, p) => s + (p.value - at(p.t)) ** 2, 0);
  const se = Math.sqrt(sse / (history.length - 2));
  return {
    upper: forecast.map((p) => ({ t: p.t, value: p.value + 2 * se })),
    lower: forecast.map((p) => ({ t: p.t, value: p.value - 2 * se })),
  };
}
