// The dashboard's widgets, each rendered into the grid item gridstack placed, and the summary.
import { useEffect, useState } from 'preact/hooks';
import { Int, problemText, query, request } from '../api';
import { BarChart, LineChart, LineSeries, forecastBand, palette } from '../chart';
import { LiveValues, summaryIsLive, valueChanges } from '../live';
import { formatNumber, formatPercent, formatTime } from '../ui';

export type WidgetKind = 'count' | 'chart' | 'stat' | 'analysis';
export interface Layout { x: number; y: number; w: number; h: number }
export interface Widget {
  id: string;
  type: WidgetKind;
  title: string;
  countIds: string[];
  chartType: string;
  period: string;
  unit: string;
  layout: Layout;
}
export interface Dashboard { id: string; name: string; widgets: Widget[]; createdAt: string; updatedAt: string; version: number }

type Unit = 'minute' | 'hour' | 'day' | 'week' | 'month';

// "24h" → seconds; the API's period form "<n><m|h|d|w>".
export function periodSeconds(period: string): number {
  const m = /^(\d+)([mhdw])$/.exec(period || '24h');
  if (!m) return 86400;
  return Number(m[1]) * { m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 'm' | 'h' | 'd' | 'w'];
}

// A unit giving a readable number of buckets for the period when the widget names none.
export function unitFor(period: string, unit: string): Unit {
  if (unit) return unit as Unit;
  const s = periodSeconds(period);
  return s <= 6 * 3600 ? 'minute' : s <= 8 * 86400 ? 'hour' : s <= 120 * 86400 ? 'day' : 'week';
}

function useLive(live: LiveValues) {
  const [, tick] = useState(0);
  useEffect(() => live.subscribe(() => tick((n) => n + 1)), [live]);
}

const num = (v: Int) => (typeof v === 'bigint' ? Number(v) : v);

// The dashboard-wide view: a range replacing each widget's period ('' keeps them), the
// refresh interval, and a tick that makes analysis and chart widgets reload.
export interface ViewOptions { range: string; refreshMs: number; tick: number }

interface ViewProps {
  widget: Widget; live: LiveValues; editing: boolean; view: ViewOptions;
  onOptions: () => void; onRemove: () => void; onDuplicate: () => void; onKey: (e: KeyboardEvent) => void;
}

// The period and unit a widget shows: the dashboard's range, when set, wins.
function periodOf(w: Widget, view: ViewOptions): { period: string; unit: Unit } {
  const period = view.range || w.period || '24h';
  return { period, unit: view.range ? unitFor(period, '') : unitFor(period, w.unit) };
}

export function WidgetView(p: ViewProps) {
  const w = p.widget;
  const title = w.title || w.id;
  const titleId = `widget-title-${w.id}`;
  return (
    <section class={`widget widget-${w.type}`} aria-labelledby={titleId} data-widget-id={w.id}>
      <header class="widget-head" tabIndex={p.editing ? 0 : undefined} onKeyDown={(e) => p.onKey(e as unknown as KeyboardEvent)}
        aria-label={p.editing ? `${title}: arrow keys move, Shift + arrow keys resize` : undefined}>
        <h3 id={titleId} title={title}>{title}</h3>
        {p.editing && (
          <span class="widget-tools">
            <button type="button" onClick={p.onOptions} aria-label={`Options of ${title}`}>Options</button>
            <button type="button" onClick={p.onDuplicate} aria-label={`Duplicate ${title}`}>Duplicate</button>
            <button type="button" class="danger" onClick={p.onRemove} aria-label={`Remove ${title}`}>Remove</button>
          </span>
        )}
      </header>
      <div class="widget-body">
        {w.type === 'count' && <CountWidget {...p} />}
        {w.type === 'chart' && <ChartWidget {...p} />}
        {w.type === 'stat' && <StatWidget {...p} />}
        {w.type === 'analysis' && <AnalysisWidget {...p} />}
      </div>
    </section>
  );
}

const Skeleton = ({ label }: { label: string }) => <div class="skeleton fill" aria-busy="true" aria-label={label} />;

function CountWidget({ widget, live }: ViewProps) {
  useLive(live);
  return (
    <ul class={`values${widget.countIds.length === 1 ? ' single' : ''}`}>
      {widget.countIds.map((id) => {
        const v = live.values.get(id);
        return (
          <li key={id} data-count-id={id}>
            <span class="count-id" title={id}>{id}</span>
            <output class="value" key={v?.updatedAt} title={v ? `updated ${formatTime(v.updatedAt)}` : undefined}>
              {v === undefined ? '…' : v.missing ? 'deleted' : formatNumber(v.value)}
            </output>
          </li>
        );
      })}
    </ul>
  );
}

// Loads `fetcher` now, whenever `deps` or the dashboard's tick change, and every minute.
function useLoaded<T>(fetcher: () => Promise<T>, deps: unknown[], view: ViewOptions): { data: T | null; error: string | null } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const load = () => fetcher().then((d) => !stop && (setData(d), setError(null)), (e) => !stop && setError(problemText(e)));
    load();
    const t = window.setInterval(load, 60_000);
    return () => { stop = true; window.clearInterval(t); };
  }, [...deps, view.tick]);
  return { data, error };
}

function range(period: string) {
  const to = new Date();
  return { from: new Date(to.getTime() - periodSeconds(period) * 1000).toISOString(), to: to.toISOString() };
}

interface SeriesBody { series: { countId: string; buckets: { t: string; last: number }[] }[] }

function ChartWidget({ widget, live, view }: ViewProps) {
  useLive(live);
  const { period, unit } = periodOf(widget, view);
  const ids = widget.countIds.join(',');
  const { data: history, error } = useLoaded(
    () => request<SeriesBody>('GET', '/analysis/api/v1/series' + query({ ids, ...range(period), unit })),
    [ids, period, unit], view);
  if (widget.chartType === 'bar') {
    const values = widget.countIds.map((id) => {
      const v = live.values.get(id);
      return v && !v.missing ? num(v.value) : 0;
    });
    return <BarChart fill labels={widget.countIds} values={values} yLabel="current value" label={`Current values of ${widget.countIds.join(', ')}`} />;
  }
  if (error) return <p class="error">{error}</p>;
  if (!history) return <Skeleton label="Loading the chart" />;
  // History per bucket, and the live value as the newest point.
  const now = Date.now() / 1000;
  const series: LineSeries[] = history.series.map((s) => {
    const points = s.buckets.map((b) => ({ t: Date.parse(b.t) / 1000, value: b.last }));
    const v = live.values.get(s.countId);
    if (v && !v.missing) points.push({ t: now, value: num(v.value) });
    return { label: s.countId, points, fill: widget.chartType === 'area' };
  });
  if (series.every((s) => s.points.length === 0))
    return <p class="muted">No values in the last {period} yet. They appear here as the counters change.</p>;
  return <LineChart fill series={series} legend={series.length > 1} xRange={[now - periodSeconds(period), now]}
    yLabel={`last value per ${unit}`} label={`${widget.title}: values per ${unit}`} />;
}

function StatWidget({ widget, live }: ViewProps) {
  useLive(live);
  if (widget.countIds.length === 0) return <SystemSummary />;
  const vals = widget.countIds.map((id) => live.values.get(id)).filter((v) => v && !v.missing).map((v) => num(v!.value));
  if (vals.length === 0) return <Skeleton label="Loading the values" />;
  const total = vals.reduce((a, b) => a + b, 0);
  return (
    <dl class="stats">
      <div><dt>Total</dt><dd>{formatNumber(total)}</dd></div>
      <div><dt>Average</dt><dd>{formatNumber(total / vals.length)}</dd></div>
      <div><dt>Lowest</dt><dd>{formatNumber(Math.min(...vals))}</dd></div>
      <div><dt>Highest</dt><dd>{formatNumber(Math.max(...vals))}</dd></div>
    </dl>
  );
}

// The summary of every counter, one request for every view that shows it (the summary bar,
// system widgets), reloaded when some counter changed (valueChanges: the stream's notices, at
// most one a second), each page after its own random delay of up to a second so that the
// pages told at once do not all ask at once; every 10 s only while no stream is open.
type SummaryState = Record<string, unknown> | null | 'failed';
const summary = { data: null as SummaryState, views: new Set<(s: SummaryState) => void>(), stop: () => {} };

function startSummary() {
  let stop = false, pending: number | undefined;
  const set = (d: SummaryState) => { summary.data = d; summary.views.forEach((v) => v(d)); };
  const load = () => request<Record<string, unknown>>('GET', '/dashboard/api/v1/summary')
    .then((s) => !stop && set(s), () => !stop && set(summary.data && summary.data !== 'failed' ? summary.data : 'failed'));
  const soon = () => {
    if (pending === undefined) pending = window.setTimeout(() => { pending = undefined; void load(); }, 100 + Math.random() * 900);
  };
  void load();
  valueChanges.addEventListener('change', soon);
  const t = window.setInterval(() => { if (!summaryIsLive()) void load(); }, 10_000);
  summary.stop = () => { stop = true; valueChanges.removeEventListener('change', soon); window.clearInterval(t); window.clearTimeout(pending); };
}

export function useSummary(): SummaryState {
  const [data, setData] = useState<SummaryState>(summary.data);
  useEffect(() => {
    summary.views.add(setData);
    if (summary.views.size === 1) startSummary();
    return () => {
      summary.views.delete(setData);
      if (summary.views.size === 0) { summary.stop(); summary.data = null; }
    };
  }, []);
  return data;
}

function SystemSummary() {
  const data = useSummary();
  if (data === 'failed') return <p class="muted">The summary is not available right now.</p>;
  return data ? <Summary data={data} compact /> : <Skeleton label="Loading the summary" />;
}

interface Point { t: string; value: number }
interface TrendR { countId: string; change: number; changeRate: number | null; classification: string; points: Point[] }
interface PredictionR { countId: string; points: Point[]; confidence: number; slopePerDay: number }
const pts = (ps: Point[]) => ps.map((p) => ({ t: Date.parse(p.t) / 1000, value: p.value }));

function AnalysisWidget({ widget, view }: ViewProps) {
  const kind = widget.chartType || 'trend';
  const { period, unit } = periodOf(widget, view);
  const ids = widget.countIds.join(',');
  const { data, error } = useLoaded(async () => {
    const body = { countIds: widget.countIds, ...range(period), unit };
    const [main, history] = await Promise.all([
      request<any>('POST', `/analysis/api/v1/${kind}`, { body }),
      kind === 'prediction' ? request<{ results: TrendR[] }>('POST', '/analysis/api/v1/trend', { body }) : null,
    ]);
    return { kind, main, history };
  }, [ids, period, unit, kind], view);
  if (error) return <p class="muted">{error}</p>;
  if (!data || data.kind !== kind) return <Skeleton label="Loading the analysis" />;
  if (kind === 'comparison') {
    const rs = data.main.results as { countId: string; value: number }[];
    return <BarChart fill labels={rs.map((r) => r.countId)} values={rs.map((r) => r.value)} yLabel={`last value in ${period}`} label={`Comparison of ${ids}`} />;
  }
  if (kind === 'prediction') {
    // History solid, forecast dashed from the last point on, and the band of the fit.
    const series: LineSeries[] = [];
    const bands: [number, number][] = [];
    (data.main.results as PredictionR[]).forEach((r, i) => {
      const color = palette[i % palette.length];
      const hist = pts(data.history?.results.find((h) => h.countId === r.countId)?.points ?? []);
      const last = hist[hist.length - 1];
      const forecast = [...(last ? [last] : []), ...pts(r.points)];
      series.push({ label: r.countId, color, points: hist });
      series.push({ label: `${r.countId} forecast`, color, dashed: true, points: forecast });
      const band = forecastBand(hist, pts(r.points));
      if (band) {
        series.push({ label: `${r.countId} band`, color, faint: true, points: band.upper });
        series.push({ label: `${r.countId} band`, color, faint: true, noLegend: true, points: band.lower });
        bands.push([series.length - 2, series.length - 1]);
      }
    });
    return (
      <>
        <p class="facts">{(data.main.results as PredictionR[]).map((r) => <span key={r.countId}><strong title={r.countId}>{r.countId}</strong> {formatNumber(r.slopePerDay)}/day, R² {formatNumber(r.confidence, 2)} </span>)}</p>
        <LineChart fill series={series} bands={bands} legend={false} yLabel={`value per ${unit}`} label={`History and forecast of ${ids}`} />
      </>
    );
  }
  const rs = data.main.results as TrendR[];
  return (
    <>
      <p class="facts">
        {rs.map((r) => <span key={r.countId}><strong title={r.countId}>{r.countId}</strong> <span class={`tag ${r.classification}`}>{r.classification}</span> {formatNumber(r.change)} ({formatPercent(r.changeRate)}) </span>)}
      </p>
      <LineChart fill legend={false} yLabel={`last value per ${unit}`} label={`Trend of ${ids}`}
        xRange={[Date.now() / 1000 - periodSeconds(period), Date.now() / 1000]}
        series={rs.map((r) => ({ label: r.countId, points: pts(r.points) }))} />
    </>
  );
}

// Summary statistics (GET /dashboard/api/v1/summary): the known figures first with labels,
// any other scalar the API adds after them.
const labels: Record<string, string> = {
  totalCounters: 'Counters', counters: 'Counters', totalCounts: 'Counters',
  totalValue: 'Sum of values', sumOfValues: 'Sum of values',
  averageValue: 'Average value', avgValue: 'Average value',
  minValue: 'Lowest value', maxValue: 'Highest value',
  latestUpdate: 'Last update', latestUpdateAt: 'Last update', lastUpdatedAt: 'Last update', latestUpdatedAt: 'Last update',
  dashboards: 'Dashboards', totalDashboards: 'Dashboards',
};

export function Summary({ data, compact }: { data: Record<string, unknown>; compact?: boolean }) {
  const entries = Object.entries(data).filter(([, v]) => v === null || ['number', 'string', 'bigint'].includes(typeof v));
  entries.sort(([a], [b]) => (a in labels ? 0 : 1) - (b in labels ? 0 : 1));
  return (
    <dl class={compact ? 'stats' : 'summary-bar'} aria-label="Summary statistics">
      {entries.map(([k, v]) => (
        <div key={k} data-key={k}>
          <dt>{labels[k] ?? k.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase())}</dt>
          <dd title={typeof v === 'string' ? formatTime(v) : String(v ?? '')}>{typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? formatTime(v, compact) : typeof v === 'number' || typeof v === 'bigint' ? formatNumber(v) : String(v ?? '—')}</dd>
        </div>
      ))}
    </dl>
  );
}
