// UC-004: choose counters, period, unit and kind (trend, comparison, prediction) → chart,
// table and summary; CSV export of the series; clear messages for the problems E3 and E4.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, problemText, query, request, requestText } from '../api';
import { BarChart, LineChart, LineSeries, forecastBand, palette } from '../chart';
import { CounterPicker } from '../counter_picker';
import { ErrorMessage, formatNumber, formatPercent, formatTime } from '../ui';

type Unit = 'minute' | 'hour' | 'day' | 'week' | 'month';
type Kind = 'trend' | 'comparison' | 'prediction';

interface Point { t: string; value: number }
interface TrendResult { countId: string; min: number; max: number; avg: number; change: number; changeRate: number | null; classification: string; points: Point[] }
interface ComparisonResult { countId: string; value: number; relativeToMax: number | null; relativeToMin: number | null; relativeToAvg: number | null }
interface PredictionResult { countId: string; points: Point[]; confidence: number; slopePerDay: number }

type Outcome =
  | { kind: 'trend'; results: TrendResult[] }
  | { kind: 'comparison'; results: ComparisonResult[]; max: number; min: number; avg: number }
  | { kind: 'prediction'; results: PredictionResult[]; history: TrendResult[] };

const presets: { key: string; label: string; ms: number; unit: Unit }[] = [
  { key: '1h', label: 'Last hour', ms: 3600e3, unit: 'minute' },
  { key: '24h', label: 'Last 24 hours', ms: 86400e3, unit: 'hour' },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86400e3, unit: 'hour' },
  { key: '30d', label: 'Last 30 days', ms: 30 * 86400e3, unit: 'day' },
  { key: '90d', label: 'Last 90 days', ms: 90 * 86400e3, unit: 'day' },
  { key: '365d', label: 'Last 365 days', ms: 365 * 86400e3, unit: 'week' },
];

// datetime-local works in local time without seconds: "2026-11-29T10:00".
function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

export default function AnalysisPage() {
  const params = new URLSearchParams(location.search);
  const [ids, setIds] = useState<string[]>(params.get('ids')?.split(',').filter(Boolean) ?? []);
  const [preset, setPreset] = useState('24h');
  const [from, setFrom] = useState(toLocalInput(new Date(Date.now() - 86400e3)));
  const [to, setTo] = useState(toLocalInput(new Date()));
  const [unit, setUnit] = useState<Unit>('hour');
  const [kind, setKind] = useState<Kind>('trend');
  const [horizon, setHorizon] = useState('10');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [errors, setErrors] = useState<{ ids?: string; period?: string; horizon?: string; result?: string }>({});
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const touched = useRef(false);  // the user chose a range or unit: never replaced

  // The default range follows the chosen counters' history: the shortest preset that holds
  // all of it (a counter with 60 days of history gets the last 90 days by day).
  useEffect(() => {
    if (ids.length === 0 || touched.current) return;
    const ctl = new AbortController();
    const to = new Date();
    const from = new Date(to.getTime() - 365 * 86400e3);
    get<{ series: { buckets: { t: string }[] }[] }>('/analysis/api/v1/series' +
      query({ ids: ids.slice(0, 50).join(','), from: from.toISOString(), to: to.toISOString(), unit: 'week' }), ctl.signal)
      .then((body) => {
        const first = Math.min(...body.series.flatMap((s) => s.buckets.map((b) => Date.parse(b.t))));
        if (touched.current || !Number.isFinite(first)) return;
        const span = Date.now() - first;
        const p = presets.find((x) => x.ms >= span) ?? presets[presets.length - 1];
        setPreset(p.key);
        setUnit(p.unit);
      })
      .catch(() => undefined);  // the range stays as it is; Analyse reports any real problem
    return () => ctl.abort();
  }, [ids.join(',')]);

  function period(): { from: string; to: string } | null {
    if (preset !== 'custom') {
      const p = presets.find((x) => x.key === preset)!;
      const end = new Date();
      return { from: new Date(end.getTime() - p.ms).toISOString(), to: end.toISOString() };
    }
    const f = new Date(from), t = new Date(to);
    if (Number.isNaN(f.getTime()) || Number.isNaN(t.getTime())) return null;
    return { from: f.toISOString(), to: t.toISOString() };
  }

  function choosePreset(key: string) {
    touched.current = true;
    setPreset(key);
    const p = presets.find((x) => x.key === key);
    if (p) setUnit(p.unit);
  }

  function check(): { from: string; to: string } | null {
    const e: typeof errors = {};
    const per = period();
    if (ids.length === 0) e.ids = 'Choose at least one counter.';
    else if (kind === 'comparison' && ids.length < 2) e.ids = 'A comparison needs at least two counters.';
    else if (ids.length > 50) e.ids = 'At most 50 counters.';
    if (!per) e.period = 'Enter both the start and the end of the period.';
    else if (per.from >= per.to) e.period = 'The start of the period must be before its end.';
    const h = Number(horizon);
    if (kind === 'prediction' && (!Number.isInteger(h) || h < 1 || h > 1000)) e.horizon = 'From 1 to 1000 buckets.';
    setErrors(e);
    return Object.keys(e).length ? null : per;
  }

  function explain(e: unknown) {
    if (e instanceof ApiError && e.kind === 'invalid-period')
      setErrors({ period: `This period cannot be analysed: ${e.detail}. A period may span at most 366 days of minutes, 3,660 days of hours, or 36,600 days in larger units.` });
    else if (e instanceof ApiError && e.kind === 'insufficient-data')
      setErrors({ result: `Not enough history for this analysis: ${e.detail}. Choose a longer period or a finer unit, or import the counter's history.` });
    else if (!(e instanceof ApiError && e.status === 401)) setErrors({ result: problemText(e) });
  }

  async function analyse(ev: Event) {
    ev.preventDefault();
    const per = check();
    if (!per) return;
    setBusy(true);
    setStatus('Analysing…');
    const body = { countIds: ids, from: per.from, to: per.to, unit };
    try {
      if (kind === 'trend') {
        const r = await request<{ results: TrendResult[] }>('POST', '/analysis/api/v1/trend', { body });
        setOutcome({ kind, results: r.results });
      } else if (kind === 'comparison') {
        const r = await request<{ results: ComparisonResult[]; max: number; min: number; avg: number }>('POST', '/analysis/api/v1/comparison', { body });
        setOutcome({ kind, ...r });
      } else {
        const [p, h] = await Promise.all([
          request<{ results: PredictionResult[] }>('POST', '/analysis/api/v1/prediction', { body: { ...body, horizon: Number(horizon) } }),
          request<{ results: TrendResult[] }>('POST', '/analysis/api/v1/trend', { body }),
        ]);
        setOutcome({ kind, results: p.results, history: h.results });
      }
      setStatus('Analysis ready.');
    } catch (e) {
      setOutcome(null);
      setStatus('');
      explain(e);
    } finally {
      setBusy(false);
    }
  }

  async function exportCsv() {
    const per = check();
    if (!per) return;
    try {
      const csv = await requestText('GET', '/analysis/api/v1/series' + query({ ids: ids.join(','), from: per.from, to: per.to, unit }), { accept: 'text/csv' });
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `series-${unit}-${per.from.slice(0, 10)}-${per.to.slice(0, 10)}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setStatus('CSV exported.');
    } catch (e) {
      explain(e);
    }
  }

  return (
    <section aria-labelledby="analysis-title">
      <h1 id="analysis-title">Analysis</h1>
      <form class="analysis-form card" onSubmit={analyse} noValidate>
        <CounterPicker value={ids} onChange={setIds} error={errors.ids} max={50} />
        <fieldset class={errors.period ? 'invalid' : ''}>
          <legend>Period</legend>
          <div class="row">
            <div class="field">
              <label for="preset">Range</label>
              <select id="preset" value={preset} onChange={(e) => choosePreset((e.currentTarget as HTMLSelectElement).value)}>
                {presets.map((p) => <option value={p.key}>{p.label}</option>)}
                <option value="custom">Custom…</option>
              </select>
            </div>
            {preset === 'custom' && (
              <>
                <div class="field">
                  <label for="from">From (local time)</label>
                  <input id="from" type="datetime-local" value={from} onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)}
                    aria-invalid={errors.period ? true : undefined} aria-describedby={errors.period ? 'period-error' : undefined} />
                </div>
                <div class="field">
                  <label for="to">To (local time)</label>
                  <input id="to" type="datetime-local" value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)}
                    aria-invalid={errors.period ? true : undefined} aria-describedby={errors.period ? 'period-error' : undefined} />
                </div>
              </>
            )}
            <div class="field">
              <label for="unit">Unit</label>
              <select id="unit" value={unit} onChange={(e) => { touched.current = true; setUnit((e.currentTarget as HTMLSelectElement).value as Unit); }}>
                {['minute', 'hour', 'day', 'week', 'month'].map((u) => <option value={u}>{u}</option>)}
              </select>
            </div>
          </div>
          {errors.period && <small id="period-error" class="error" role="alert">{errors.period}</small>}
        </fieldset>
        <fieldset>
          <legend>Analysis</legend>
          <div class="radios">
            {(['trend', 'comparison', 'prediction'] as Kind[]).map((k) => (
              <label class="check" key={k}>
                <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
                {k[0].toUpperCase() + k.slice(1)}
              </label>
            ))}
          </div>
          {kind === 'prediction' && (
            <div class="field inline">
              <label for="horizon">Predict buckets ahead</label>
              <input id="horizon" type="number" min={1} max={1000} value={horizon} onInput={(e) => setHorizon((e.currentTarget as HTMLInputElement).value)}
                aria-invalid={errors.horizon ? true : undefined} aria-describedby={errors.horizon ? 'horizon-error' : undefined} />
              {errors.horizon && <small id="horizon-error" class="error" role="alert">{errors.horizon}</small>}
            </div>
          )}
        </fieldset>
        <div class="actions">
          <button type="button" onClick={exportCsv}>Export CSV</button>
          <button type="submit" class="primary" disabled={busy}>Analyse</button>
        </div>
      </form>
      <p class="status" role="status" aria-live="polite">{status}</p>
      {errors.result && <ErrorMessage>{errors.result}</ErrorMessage>}
      {outcome && <Results outcome={outcome} unit={unit} />}
    </section>
  );
}

function Results({ outcome, unit }: { outcome: Outcome; unit: Unit }) {
  if (outcome.kind === 'trend') {
    const series: LineSeries[] = outcome.results.map((r) => ({ label: r.countId, points: r.points.map((p) => ({ t: seconds(p.t), value: p.value })) }));
    return (
      <div class="results" aria-label="Trend results">
        <ul class="summary">
          {outcome.results.map((r) => (
            <li key={r.countId} class="card stat">
              <strong>{r.countId}</strong> is <span class={`tag ${r.classification}`}>{r.classification}</span>: changed by {formatNumber(r.change)}
              {r.changeRate !== null && <> ({formatPercent(r.changeRate)})</>}, between {formatNumber(r.min)} and {formatNumber(r.max)}, average {formatNumber(r.avg)}.
            </li>
          ))}
        </ul>
        <figure class="card">
          <LineChart series={series} yLabel={`last value per ${unit}`} label={`Trend of ${outcome.results.map((r) => r.countId).join(', ')} per ${unit}`} />
          <figcaption>Last value per {unit}.</figcaption>
        </figure>
        <div class="table-wrap">
          <table>
            <caption>Trend per counter</caption>
            <thead><tr><th scope="col">Counter</th><th scope="col" class="num">Min</th><th scope="col" class="num">Max</th><th scope="col" class="num">Average</th><th scope="col" class="num">Change</th><th scope="col" class="num">Change rate</th><th scope="col">Classification</th><th scope="col" class="num">Points</th></tr></thead>
            <tbody>
              {outcome.results.map((r) => (
                <tr key={r.countId}><th scope="row">{r.countId}</th><td class="num">{formatNumber(r.min)}</td><td class="num">{formatNumber(r.max)}</td><td class="num">{formatNumber(r.avg)}</td>
                  <td class="num">{formatNumber(r.change)}</td><td class="num">{formatPercent(r.changeRate)}</td><td>{r.classification}</td><td class="num">{r.points.length}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    );
  }
  if (outcome.kind === 'comparison') {
    return (
      <div class="results" aria-label="Comparison results">
        <ul class="summary">
          <li class="card stat">Highest <strong>{formatNumber(outcome.max)}</strong></li>
          <li class="card stat">Lowest <strong>{formatNumber(outcome.min)}</strong></li>
          <li class="card stat">Average <strong>{formatNumber(outcome.avg)}</strong></li>
        </ul>
        <figure class="card">
          <BarChart labels={outcome.results.map((r) => r.countId)} values={outcome.results.map((r) => r.value)} yLabel="last value" label="Last value of each counter in the period" />
          <figcaption>Last value of each counter in the period.</figcaption>
        </figure>
        <div class="table-wrap">
          <table>
            <caption>Comparison</caption>
            <thead><tr><th scope="col">Counter</th><th scope="col" class="num">Value</th><th scope="col" class="num">of max</th><th scope="col" class="num">of min</th><th scope="col" class="num">of average</th></tr></thead>
            <tbody>
              {outcome.results.map((r) => (
                <tr key={r.countId}><th scope="row">{r.countId}</th><td class="num">{formatNumber(r.value)}</td>
                  <td class="num">{formatNumber(r.relativeToMax, 3)}</td><td class="num">{formatNumber(r.relativeToMin, 3)}</td><td class="num">{formatNumber(r.relativeToAvg, 3)}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    );
  }
  const series: LineSeries[] = [];
  const bands: [number, number][] = [];
  outcome.results.forEach((r, i) => {
    const hist = outcome.history.find((h) => h.countId === r.countId);
    const color = palette[i % palette.length];
    const past = (hist?.points ?? []).map((p) => ({ t: seconds(p.t), value: p.value }));
    const ahead = r.points.map((p) => ({ t: seconds(p.t), value: p.value }));
    if (hist) series.push({ label: `${r.countId}`, color, points: past });
    series.push({ label: `${r.countId} (predicted)`, color, dashed: true, points: [...past.slice(-1), ...ahead] });
    const band = forecastBand(past, ahead);
    if (band) {
      series.push({ label: `${r.countId} ± 2 standard errors`, color, faint: true, points: band.upper });
      series.push({ label: `${r.countId} band`, color, faint: true, noLegend: true, points: band.lower });
      bands.push([series.length - 2, series.length - 1]);
    }
  });
  return (
    <div class="results" aria-label="Prediction results">
      <ul class="summary">
        {outcome.results.map((r) => (
          <li key={r.countId} class="card stat">
            <strong>{r.countId}</strong> moves {formatNumber(r.slopePerDay)} per day; predicted {formatNumber(r.points[r.points.length - 1]?.value)} at {formatTime(r.points[r.points.length - 1]?.t)} (confidence R² {formatNumber(r.confidence, 3)}).
          </li>
        ))}
      </ul>
      <figure class="card">
        <LineChart series={series} bands={bands} yLabel={`value per ${unit}`} label={`History and prediction of ${outcome.results.map((r) => r.countId).join(', ')}`} />
        <figcaption>Solid: history per {unit}. Dashed: least-squares prediction. Shaded: the prediction ± 2 standard errors of the history around the fitted line.</figcaption>
      </figure>
      <div class="table-wrap">
        <table>
          <caption>Predicted values</caption>
          <thead><tr><th scope="col">Counter</th><th scope="col">Time</th><th scope="col" class="num">Predicted value</th></tr></thead>
          <tbody>
            {outcome.results.flatMap((r) => r.points.map((p) => (
              <tr key={r.countId + p.t}><th scope="row">{r.countId}</th><td>{formatTime(p.t)}</td><td class="num">{formatNumber(p.value)}</td></tr>
            )))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
