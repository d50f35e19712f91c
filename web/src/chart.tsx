// uPlot charts sized to their container (narrow screens included). The table beside every
// chart carries the same figures for screen readers and keyboard users.
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

function useUplot(make: (width: number) => uPlot | null, deps: unknown[]) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current!;
    let plot = make(Math.max(200, el.clientWidth));
    if (plot) el.appendChild(plot.root);
    const ro = new ResizeObserver(() => plot?.setSize({ width: Math.max(200, el.clientWidth), height: plot.height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot?.destroy();
      plot = null;
    };
  }, deps);
  return host;
}

export function LineChart(p: { series: LineSeries[]; height?: number; label: string; legend?: boolean }) {
  const host = useUplot(
    (width) =>
      new uPlot(
        {
          width,
          height: p.height ?? 280,
          legend: { show: p.legend ?? true },
          cursor: { drag: { x: true, y: false } },
          scales: { x: { time: true } },
          series: [
            {},
            ...p.series.map((s, i) => ({
              label: s.label,
              stroke: s.color ?? palette[i % palette.length],
              width: 2,
              dash: s.dashed ? [6, 4] : undefined,
              fill: s.fill ? (s.color ?? palette[i % palette.length]) + '33' : undefined,
              spanGaps: true,
              points: { show: s.points.length < 60 },
            })),
          ],
          axes: [{}, { size: 70 }],
        },
        align(p.series),
      ),
    [p.series, p.height],
  );
  return <div class="chart" ref={host} role="img" aria-label={p.label} />;
}

export function BarChart(p: { labels: string[]; values: number[]; height?: number; label: string }) {
  const host = useUplot((width) => {
    const xs = p.labels.map((_, i) => i);
    return new uPlot(
      {
        width,
        height: p.height ?? 280,
        legend: { show: false },
        scales: { x: { time: false, range: [-0.5, p.labels.length - 0.5] } },
        series: [
          {},
          { label: 'value', fill: palette[0] + 'cc', stroke: palette[0], paths: uPlot.paths.bars!({ size: [0.6, 80] }), points: { show: false } },
        ],
        axes: [
          { splits: () => xs, values: (_u, splits) => splits.map((i) => p.labels[i] ?? '') },
          { size: 70 },
        ],
      },
      [xs, p.values],
    );
  }, [p.labels, p.values, p.height]);
  return <div class="chart" ref={host} role="img" aria-label={p.label} />;
}
