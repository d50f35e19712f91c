// The dashboard's widgets, each rendered into the grid item gridstack placed, and the summary.
import { useEffect, useState } from 'preact/hooks';
import { Int, problemText, query, request } from '../api';
import { BarChart, LineChart, LineSeries } from '../chart';
import { LiveValues } from '../live';
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
export interface Dashboard { id: string; name: string; widgets: Widget[]; createdAt: string; updatedAt: string }

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

interface ViewProps { widget: Widget; live: LiveValues; editing: boolean; onOptions: () => void; onRemove: () => void }

export function WidgetView(p: ViewProps) {
  const w = p.widget;
  const titleId = `widget-title-${w.id}`;
  return (
    <section class={`widget widget-${w.type}`} aria-labelledby={titleId} data-widget-id={w.id}>
      <header class="widget-head">
        <h3 id={titleId}>{w.title || w.id}</h3>
        {p.editing && (
          <span class="widget-tools">
            <button type="button" onClick={p.onOptions} aria-label={`Options of ${w.title || w.id}`}>Options</button>
            <button type="button" class="danger" onClick={p.onRemove} aria-label={`Remove ${w.title || w.id}`}>Remove</button>
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

function CountWidget({ widget, live }: ViewProps) {
  useLive(live);
  return (
    <ul class={`values${widget.countIds.length === 1 ? ' single' : ''}`}>
      {widget.countIds.map((id) => {
        const v = live.values.get(id);
        return (
          <li key={id} data-count-id={id}>
            <span class="count-id">{id}</span>
            <output class="value" key={v?.updatedAt} title={v ? `updated ${formatTime(v.updatedAt)}` : undefined}>
              {v === undefined ? '…' : v.missing ? 'deleted' : formatNumber(v.value)}
            </output>
          </li>
        );
      })}
    </ul>
  );
}

interface SeriesBody { series: { countId: string; buckets: { t: string; last: number }[] }[] }

function ChartWidget({ widget, live }: ViewProps) {
  useLive(live);
  const [history, setHistory] = useState<SeriesBody | null>(null);
  const [error, setError] = useState<string | null>(null);
  const unit = unitFor(widget.period, widget.unit);
  useEffect(() => {
    const load = () => {
      const to = new Date();
      const from = new Date(to.getTime() - periodSeconds(widget.period) * 1000);
      request<SeriesBody>('GET', '/analysis/api/v1/series' + query({ ids: widget.countIds.join(','), from: from.toISOString(), to: to.toISOString(), unit }))
        .then((s) => { setHistory(s); setError(null); }, (e) => setError(problemText(e)));
    };
    load();
    const t = window.setInterval(load, 60_000);
    return () => window.clearInterval(t);
  }, [widget.countIds.join(','), widget.period, unit]);
  if (error) return <p class="error">{error}</p>;
  if (!history) return <p class="muted">Loading…</p>;
  // History per bucket, and the live value as the newest point.
  const now = Date.now() / 1000;
  if (widget.chartType === 'bar') {
    const values = widget.countIds.map((id) => {
      const v = live.values.get(id);
      return v && !v.missing ? num(v.value) : 0;
    });
    return <BarChart labels={widget.countIds} values={values} height={chartHeight(widget)} label={`Current values of ${widget.countIds.join(', ')}`} />;
  }
  const series: LineSeries[] = history.series.map((s) => {
    const points = s.buckets.map((b) => ({ t: Date.parse(b.t) / 1000, value: b.last }));
    const v = live.values.get(s.countId);
    if (v && !v.missing) points.push({ t: now, value: num(v.value) });
    return { label: s.countId, points, fill: widget.chartType === 'area' };
  });
  // A legend only for several counters, and out of the chart's height (uPlot adds it below).
  const legend = series.length > 1;
  return <LineChart series={series} height={chartHeight(widget) - (legend ? 36 : 0)} legend={legend} label={`${widget.title}: values per ${unit}`} />;
}

function chartHeight(w: Widget): number {
  return Math.max(60, w.layout.h * 90 - 70);
}

function StatWidget({ widget, live }: ViewProps) {
  useLive(live);
  if (widget.countIds.length === 0) return <SystemSummary />;
  const vals = widget.countIds.map((id) => live.values.get(id)).filter((v) => v && !v.missing).map((v) => num(v!.value));
  if (vals.length === 0) return <p class="muted">…</p>;
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

function SystemSummary() {
  const [data, setData] = useState<Record<string, unknown> | null>(null);
  useEffect(() => {
    const load = () => request<Record<string, unknown>>('GET', '/dashboard/api/v1/summary').then(setData, () => undefined);
    void load();
    const t = window.setInterval(load, 10_000);
    return () => window.clearInterval(t);
  }, []);
  return data ? <Summary data={data} compact /> : <p class="muted">…</p>;
}

interface TrendR { countId: string; change: number; changeRate: number | null; classification: string; points: { t: string; value: number }[] }

function AnalysisWidget({ widget }: ViewProps) {
  const [result, setResult] = useState<{ kind: string; body: any } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const kind = widget.chartType || 'trend';
  const unit = unitFor(widget.period, widget.unit);
  useEffect(() => {
    const load = () => {
      const to = new Date();
      const from = new Date(to.getTime() - periodSeconds(widget.period) * 1000);
      request<any>('POST', `/analysis/api/v1/${kind}`, { body: { countIds: widget.countIds, from: from.toISOString(), to: to.toISOString(), unit } })
        .then((body) => { setResult({ kind, body }); setError(null); }, (e) => setError(problemText(e)));
    };
    load();
    const t = window.setInterval(load, 60_000);
    return () => window.clearInterval(t);
  }, [widget.countIds.join(','), widget.period, unit, kind]);
  if (error) return <p class="muted">{error}</p>;
  if (!result) return <p class="muted">Loading…</p>;
  const h = chartHeight(widget) - 30;
  if (result.kind === 'comparison')
    return <BarChart labels={result.body.results.map((r: any) => r.countId)} values={result.body.results.map((r: any) => r.value)} height={h} label="Comparison" />;
  if (result.kind === 'prediction')
    return (
      <ul class="facts">
        {result.body.results.map((r: any) => (
          <li key={r.countId}><strong>{r.countId}</strong>: {formatNumber(r.slopePerDay)}/day, next {formatNumber(r.points[0]?.value)} (R² {formatNumber(r.confidence, 2)})</li>
        ))}
      </ul>
    );
  const rs = result.body.results as TrendR[];
  return (
    <>
      <ul class="facts">
        {rs.map((r) => <li key={r.countId}><strong>{r.countId}</strong> <span class={`tag ${r.classification}`}>{r.classification}</span> {formatNumber(r.change)} ({formatPercent(r.changeRate)})</li>)}
      </ul>
      {h > 60 && <LineChart height={h - 20 * rs.length} legend={false} label={`Trend of ${widget.countIds.join(', ')}`}
        series={rs.map((r) => ({ label: r.countId, points: r.points.map((p) => ({ t: Date.parse(p.t) / 1000, value: p.value })) }))} />}
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
          <dd>{typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? formatTime(v, compact) : typeof v === 'number' || typeof v === 'bigint' ? formatNumber(v) : String(v ?? '—')}</dd>
        </div>
      ))}
    </dl>
  );
}
