// UC-005: dashboards — view with live values (SSE, polling fallback), summary statistics, an
// edit mode (add, remove, drag, resize widgets, set each widget's options), save and reload.
//
// gridstack owns the grid's DOM (positions, drag, resize); each widget's content is its own
// small Preact root rendered into the item gridstack placed. The page keeps the model (the
// dashboard as the API stores it) and reads the layout back from gridstack when saving.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { GridStack, GridItemHTMLElement } from 'gridstack';
import 'gridstack/dist/gridstack.min.css';
import { ApiError, countsPath, get, problemText, request } from '../api';
import { CounterPicker } from '../counter_picker';
import { LiveState, LiveValues } from '../live';
import { Dialog, ErrorMessage, Field, useId } from '../ui';
import { Summary, WidgetView, WidgetKind, Widget, Layout, Dashboard } from './widgets';

const api = '/dashboard/api/v1';
const kColumns = 12;
const kNarrow = 640;  // below: one column, layout editing through the options only

function dashboardsOf(body: unknown): Dashboard[] {
  if (Array.isArray(body)) return body as Dashboard[];
  const o = body as Record<string, unknown>;
  return ((o.items ?? o.dashboards ?? []) as Dashboard[]);
}

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._:-]+/g, '-').replace(/^[^a-z0-9]+|-+$/g, '').slice(0, 100);
  return s || 'dashboard';
}

function nextWidgetId(widgets: Widget[]): string {
  let n = widgets.length + 1;
  while (widgets.some((w) => w.id === `w${n}`)) n++;
  return `w${n}`;
}

const stateText: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting… (polling meanwhile)',
  polling: 'Live stream unavailable: polling every 2 s',
};

export default function DashboardPage() {
  const [list, setList] = useState<Dashboard[] | null>(null);
  const [hasCounters, setHasCounters] = useState<boolean | null>(null);
  const [selected, setSelected] = useState<string | null>(new URLSearchParams(location.search).get('id'));
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Dashboard | null>(null);
  const [reload, setReload] = useState(0);
  const [version, setVersion] = useState(0);  // bumped to rebuild the view from the store

  useEffect(() => {
    get<unknown>(`${api}/dashboards`)
      .then((body) => {
        const ds = dashboardsOf(body);
        setList(ds);
        if (!selected && ds.length) choose(ds[0].id, true);
      })
      .catch((e) => setError(problemText(e)));
    get<{ items: unknown[] }>(`${countsPath}?limit=1`).then((p) => setHasCounters(p.items.length > 0), () => setHasCounters(null));
  }, [reload]);

  function choose(id: string | null, replace = false) {
    setSelected(id);
    const url = id ? `?id=${encodeURIComponent(id)}` : location.pathname;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
  }

  useEffect(() => {
    const onPop = () => setSelected(new URLSearchParams(location.search).get('id'));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const current = list?.find((d) => d.id === selected) ?? null;
  return (
    <section aria-labelledby="dash-title" class="dashboards">
      <div class="page-head">
        <h1 id="dash-title">Dashboards</h1>
        <div class="toolbar">
          {list && list.length > 0 && (
            <div class="field inline">
              <label for="dash-select">Dashboard</label>
              <select id="dash-select" value={selected ?? ''} onChange={(e) => choose((e.currentTarget as HTMLSelectElement).value)}>
                {!current && <option value="">Choose…</option>}
                {list.map((d) => <option value={d.id}>{d.name}</option>)}
              </select>
            </div>
          )}
          <button type="button" onClick={() => setCreating(true)}>New dashboard</button>
          {current && <button type="button" class="danger" onClick={() => setDeleting(current)}>Delete dashboard</button>}
        </div>
      </div>
      <SummaryBar />
      {error && <ErrorMessage>Could not load the dashboards. {error}</ErrorMessage>}
      {hasCounters === false && (
        <div class="empty">
          <p><strong>No counters yet.</strong> Dashboards show counters: create some on the <a href="/management/">Counters</a> page first.</p>
        </div>
      )}
      {list && list.length === 0 && (
        <div class="empty">
          <p>No dashboards yet.</p>
          <button type="button" class="primary" onClick={() => setCreating(true)}>Create a dashboard</button>
        </div>
      )}
      {selected && list && !current && <ErrorMessage>There is no dashboard “{selected}”.</ErrorMessage>}
      {current && (
        <DashboardView key={`${current.id}:${version}`} initial={current}
          onSaved={(d) => { setList(list!.map((x) => (x.id === d.id ? d : x))); setVersion((n) => n + 1); }}
          onReload={() => setVersion((n) => n + 1)} />
      )}
      {creating && (
        <CreateDialog existing={list ?? []} onCancel={() => setCreating(false)} onCreated={(d) => {
          setCreating(false);
          setList([...(list ?? []), d]);
          choose(d.id);
        }} />
      )}
      {deleting && (
        <Dialog title={`Delete dashboard ${deleting.name}?`} onClose={() => setDeleting(null)}>
          <p>The dashboard's layout is removed; its counters are not touched.</p>
          <div class="actions">
            <button type="button" autoFocus onClick={() => setDeleting(null)}>Cancel</button>
            <button type="button" class="danger" onClick={async () => {
              try {
                await request('DELETE', `${api}/dashboards/${encodeURIComponent(deleting.id)}`);
                setDeleting(null);
                choose(null, true);
                setReload((n) => n + 1);
              } catch (e) {
                setError(problemText(e));
                setDeleting(null);
              }
            }}>Delete</button>
          </div>
        </Dialog>
      )}
    </section>
  );
}

function CreateDialog(p: { existing: Dashboard[]; onCancel: () => void; onCreated: (d: Dashboard) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  async function submit(e: Event) {
    e.preventDefault();
    if (!name.trim()) return setError('Give the dashboard a name.');
    let id = slug(name);
    for (let n = 2; p.existing.some((d) => d.id === id); n++) id = `${slug(name)}-${n}`;
    try {
      p.onCreated(await request<Dashboard>('POST', `${api}/dashboards`, { body: { id, name: name.trim(), widgets: [] } }));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) setError(problemText(err));
    }
  }
  return (
    <Dialog title="New dashboard" onClose={p.onCancel}>
      <form onSubmit={submit} noValidate>
        <Field label="Name" name="name" value={name} onInput={setName} error={error} autoFocus required />
        <div class="actions">
          <button type="button" onClick={p.onCancel}>Cancel</button>
          <button type="submit" class="primary">Create</button>
        </div>
      </form>
    </Dialog>
  );
}

function SummaryBar() {
  const [summary, setSummary] = useState<Record<string, unknown> | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let stop = false;
    const load = () => get<Record<string, unknown>>(`${api}/summary`).then((s) => !stop && (setSummary(s), setFailed(false)), () => !stop && setFailed(true));
    void load();
    const t = window.setInterval(load, 10_000);
    return () => { stop = true; window.clearInterval(t); };
  }, []);
  if (failed && !summary) return <p class="muted">Summary statistics are not available.</p>;
  return summary ? <Summary data={summary} /> : null;
}

interface GridProps { initial: Dashboard; onSaved: (d: Dashboard) => void; onReload: () => void }

function DashboardView({ initial, onSaved, onReload }: GridProps) {
  const [model, setModel] = useState<Dashboard>(initial);
  const [editing, setEditing] = useState(false);
  const [dirty, setDirty] = useState(false);
  const [optionsFor, setOptionsFor] = useState<Widget | 'new' | null>(null);
  const [state, setState] = useState<LiveState>('connecting');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [narrow, setNarrow] = useState(window.innerWidth < kNarrow);
  const gridEl = useRef<HTMLDivElement>(null);
  const grid = useRef<GridStack | null>(null);
  const live = useRef<LiveValues | null>(null);
  const items = useRef(new Map<string, GridItemHTMLElement>());
  const modelRef = useRef(model);
  modelRef.current = model;
  const editingRef = useRef(editing);
  editingRef.current = editing;

  // Live values for the saved dashboard's counters (the stream subscribes by dashboardId).
  useEffect(() => {
    const ids = [...new Set(initial.widgets.flatMap((w) => w.countIds))];
    const lv = new LiveValues(initial.id, ids);
    live.current = lv;
    const off = lv.subscribe(() => setState(lv.state));
    const first = lv.start();
    first.then(() => markInteractive());
    return () => { off(); lv.stop(); };
  }, [initial]);

  // The grid, built once per loaded dashboard.
  useEffect(() => {
    const g = GridStack.init({
      column: kColumns,
      cellHeight: 90,
      margin: 6,
      float: false,
      staticGrid: true,
      animate: false,
      columnOpts: { breakpoints: [{ w: kNarrow, c: 1 }] },
      draggable: { handle: '.widget-head' },
      resizable: { handles: 'se,e,s' },
      alwaysShowResizeHandle: true,  // in edit mode (the grid is static otherwise)
    }, gridEl.current!);
    grid.current = g;
    g.batchUpdate();
    for (const w of initial.widgets) mount(w);
    g.batchUpdate(false);
    g.on('change', () => {
      if (g.getColumn() === kColumns) setDirty(true);
    });
    const onResize = () => setNarrow(window.innerWidth < kNarrow);
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      for (const el of items.current.values()) render(null, el.querySelector('.grid-stack-item-content')!);
      items.current.clear();
      g.destroy(false);
      grid.current = null;
    };
  }, [initial]);

  useEffect(() => {
    const g = grid.current!;
    g.setStatic(!editing);
    g.enableMove(editing && !narrow);
    g.enableResize(editing && !narrow);
    rerenderAll();
  }, [editing, narrow]);

  function mount(w: Widget) {
    const g = grid.current!;
    const el = document.createElement('div') as unknown as GridItemHTMLElement;
    el.className = 'grid-stack-item';
    el.dataset.widgetId = w.id;
    const content = document.createElement('div');
    content.className = 'grid-stack-item-content';
    el.appendChild(content);
    gridEl.current!.appendChild(el);
    g.makeWidget(el, { id: w.id, ...w.layout });
    items.current.set(w.id, el);
    renderWidget(w);
  }

  function renderWidget(w: Widget) {
    const el = items.current.get(w.id);
    if (!el) return;
    render(
      <WidgetView widget={w} live={live.current!} editing={editingRef.current}
        onOptions={() => {
          // The options show where the widget is now, dragged or not.
          const current = modelRef.current.widgets.find((x) => x.id === w.id);
          const shown = layouts().get(w.id);
          setOptionsFor(current ? { ...current, layout: shown ?? current.layout } : null);
        }}
        onRemove={() => removeWidget(w.id)} />,
      el.querySelector('.grid-stack-item-content')!,
    );
  }

  function rerenderAll() {
    for (const w of modelRef.current.widgets) renderWidget(w);
  }

  // The layout as the grid shows it (12 columns), else as the model holds it.
  function layouts(): Map<string, Layout> {
    const out = new Map<string, Layout>();
    if (grid.current && grid.current.getColumn() === kColumns)
      for (const el of items.current.values()) {
        const n = el.gridstackNode!;
        out.set(String(n.id), { x: n.x ?? 0, y: n.y ?? 0, w: n.w ?? 1, h: n.h ?? 1 });
      }
    return out;
  }

  function removeWidget(id: string) {
    const el = items.current.get(id);
    if (el) {
      render(null, el.querySelector('.grid-stack-item-content')!);
      grid.current!.removeWidget(el, true);
      items.current.delete(id);
    }
    setModel((m) => ({ ...m, widgets: m.widgets.filter((w) => w.id !== id) }));
    setDirty(true);
    setStatus('Widget removed.');
    document.getElementById('add-widget')?.focus();
  }

  function applyOptions(w: Widget, isNew: boolean) {
    setOptionsFor(null);
    const pos = layouts();
    const widgets = modelRef.current.widgets.map((x) => (x.id === w.id ? w : { ...x, layout: pos.get(x.id) ?? x.layout }));
    if (isNew) widgets.push(w);
    const next = { ...modelRef.current, widgets };
    modelRef.current = next;
    setModel(next);
    setDirty(true);
    if (isNew) {
      mount(w);
      setStatus(`Widget ${w.title} added.`);
    } else {
      grid.current!.update(items.current.get(w.id)!, { ...w.layout });
      renderWidget(w);
      setStatus(`Widget ${w.title} updated.`);
    }
  }

  async function save() {
    const pos = layouts();
    const body = { ...model, widgets: model.widgets.map((w) => ({ ...w, layout: pos.get(w.id) ?? w.layout })) };
    try {
      const saved = await request<Dashboard>('PUT', `${api}/dashboards/${encodeURIComponent(model.id)}`,
        { body: { name: body.name, widgets: body.widgets } });
      setError(null);
      setEditing(false);
      setDirty(false);
      onSaved(saved);  // remounts this view from the stored dashboard (and resubscribes)
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      setError(`Not saved. ${problemText(e)}${widgetHint(e, body.widgets)}`);
    }
  }

  function cancel() {
    onReload();  // rebuilt from the stored version
  }

  const empty = model.widgets.length === 0;
  return (
    <div class="dashboard" data-dashboard-id={model.id}>
      <div class="dash-bar">
        <h2>{model.name}</h2>
        <p class={`live-state ${state}`} role="status" aria-live="polite" data-state={state}>
          <span class="dot" aria-hidden="true" /> {stateText[state]}
        </p>
        <div class="actions">
          {editing ? (
            <>
              <button type="button" id="add-widget" onClick={() => setOptionsFor('new')}>Add widget</button>
              <button type="button" onClick={cancel}>Cancel</button>
              <button type="button" class="primary" onClick={save}>Save layout</button>
            </>
          ) : (
            <button type="button" onClick={() => setEditing(true)}>Edit dashboard</button>
          )}
        </div>
      </div>
      <p class="status" role="status">{status}{dirty ? ' Unsaved changes.' : ''}</p>
      {editing && (
        <p class="hint">Drag a widget by its title bar and resize it from its edges, or set its position and size in its options. {narrow ? 'On a narrow screen the grid is one column: use the options to arrange.' : ''}</p>
      )}
      {error && <ErrorMessage>{error}</ErrorMessage>}
      {empty && !editing && (
        <div class="empty">
          <p>This dashboard has no widgets yet.</p>
          <button type="button" class="primary" onClick={() => { setEditing(true); setOptionsFor('new'); }}>Add a widget</button>
        </div>
      )}
      <div class={`grid-stack${editing ? ' editing' : ''}`} ref={gridEl} role="region" aria-label={`Widgets of ${model.name}`} />
      {optionsFor && (
        <WidgetOptions
          widget={optionsFor === 'new' ? null : optionsFor}
          fresh={{ id: nextWidgetId(model.widgets), type: 'count', title: '', countIds: [], chartType: '', period: '', unit: '',
            layout: { x: 0, y: Math.max(0, ...model.widgets.map((w) => (layouts().get(w.id) ?? w.layout).y + (layouts().get(w.id) ?? w.layout).h)), w: 3, h: 2 } }}
          onCancel={() => setOptionsFor(null)}
          onApply={(w) => applyOptions(w, optionsFor === 'new')} />
      )}
    </div>
  );
}

function widgetHint(e: unknown, widgets: Widget[]): string {
  const m = e instanceof ApiError ? /widgets\[(\d+)\]/.exec(e.detail) : null;
  const w = m ? widgets[Number(m[1])] : undefined;
  return w ? ` (widget “${w.title || w.id}”)` : '';
}

const periods = ['15m', '1h', '6h', '24h', '7d', '30d', '90d'];
const kinds: { type: WidgetKind; label: string }[] = [
  { type: 'count', label: 'Count — the live value' },
  { type: 'chart', label: 'Chart — values over a period' },
  { type: 'stat', label: 'Statistics — total, average, range' },
  { type: 'analysis', label: 'Analysis — trend, comparison or prediction' },
];

function WidgetOptions(p: { widget: Widget | null; fresh: Widget; onCancel: () => void; onApply: (w: Widget) => void }) {
  const [w, setW] = useState<Widget>(p.widget ?? p.fresh);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [layout, setLayout] = useState({ x: String(w.layout.x), y: String(w.layout.y), w: String(w.layout.w), h: String(w.layout.h) });
  const id = useId('wopt');
  const set = (patch: Partial<Widget>) => setW({ ...w, ...patch });

  function changeType(type: WidgetKind) {
    // Options a type does not take are cleared (the API refuses them).
    set({ type, chartType: '', period: type === 'count' ? '' : w.period || '24h', unit: type === 'chart' || type === 'analysis' ? w.unit : '' });
  }

  function submit(e: Event) {
    e.preventDefault();
    const out: Record<string, string> = {};
    if (!w.title.trim()) out.title = 'Give the widget a title.';
    if (w.title.length > 200) out.title = 'At most 200 characters.';
    if (w.type !== 'stat' && w.countIds.length === 0) out.countIds = 'Choose at least one counter.';
    if (w.type === 'analysis' && w.chartType === 'comparison' && w.countIds.length < 2) out.countIds = 'A comparison needs at least two counters.';
    const n: Layout = { x: Number(layout.x), y: Number(layout.y), w: Number(layout.w), h: Number(layout.h) };
    if (![n.x, n.y, n.w, n.h].every(Number.isInteger)) out.layout = 'Whole numbers only.';
    else if (n.x < 0 || n.y < 0) out.layout = 'Column and row start at 0.';
    else if (n.w < 1 || n.x + n.w > kColumns) out.layout = `Width from 1, and column + width at most ${kColumns}.`;
    else if (n.h < 1 || n.h > 24) out.layout = 'Height from 1 to 24 rows.';
    setErrors(out);
    if (Object.keys(out).length) return;
    p.onApply({ ...w, title: w.title.trim(), layout: n });
  }

  const chartTypes = w.type === 'chart' ? ['line', 'bar', 'area'] : w.type === 'analysis' ? ['trend', 'comparison', 'prediction'] : [];
  return (
    <Dialog title={p.widget ? `Options of ${p.widget.title || p.widget.id}` : 'Add widget'} onClose={p.onCancel} wide>
      <form onSubmit={submit} noValidate>
        <Field label="Title" name="title" value={w.title} onInput={(title) => set({ title })} error={errors.title} autoFocus />
        <div class="field">
          <label for={`${id}-type`}>Type</label>
          <select id={`${id}-type`} value={w.type} onChange={(e) => changeType((e.currentTarget as HTMLSelectElement).value as WidgetKind)}>
            {kinds.map((k) => <option value={k.type}>{k.label}</option>)}
          </select>
        </div>
        <CounterPicker value={w.countIds} onChange={(countIds) => set({ countIds })} error={errors.countIds} max={20}
          label={w.type === 'stat' ? 'Counters (none: the whole system)' : 'Counters'} />
        {w.type !== 'count' && (
          <div class="row">
            {chartTypes.length > 0 && (
              <div class="field">
                <label for={`${id}-chart`}>{w.type === 'chart' ? 'Chart type' : 'Analysis'}</label>
                <select id={`${id}-chart`} value={w.chartType} onChange={(e) => set({ chartType: (e.currentTarget as HTMLSelectElement).value })}>
                  <option value="">{w.type === 'chart' ? 'line (default)' : 'trend (default)'}</option>
                  {chartTypes.map((c) => <option value={c}>{c}</option>)}
                </select>
              </div>
            )}
            <div class="field">
              <label for={`${id}-period`}>Period</label>
              <select id={`${id}-period`} value={w.period} onChange={(e) => set({ period: (e.currentTarget as HTMLSelectElement).value })}>
                <option value="">default (24h)</option>
                {periods.map((x) => <option value={x}>{x}</option>)}
              </select>
            </div>
            {(w.type === 'chart' || w.type === 'analysis') && (
              <div class="field">
                <label for={`${id}-unit`}>Unit</label>
                <select id={`${id}-unit`} value={w.unit} onChange={(e) => set({ unit: (e.currentTarget as HTMLSelectElement).value })}>
                  <option value="">automatic</option>
                  {['minute', 'hour', 'day', 'week', 'month'].map((u) => <option value={u}>{u}</option>)}
                </select>
              </div>
            )}
          </div>
        )}
        <fieldset class={errors.layout ? 'invalid' : ''}>
          <legend>Position and size (grid of {kColumns} columns)</legend>
          <div class="row">
            {(['x', 'y', 'w', 'h'] as const).map((k) => (
              <Field label={{ x: 'Column', y: 'Row', w: 'Width', h: 'Height' }[k]} name={`layout-${k}`} type="number" value={layout[k]}
                onInput={(v) => setLayout({ ...layout, [k]: v })} />
            ))}
          </div>
          {errors.layout && <small class="error" role="alert">{errors.layout}</small>}
        </fieldset>
        <div class="actions">
          <button type="button" onClick={p.onCancel}>Cancel</button>
          <button type="submit" class="primary">{p.widget ? 'Apply' : 'Add'}</button>
        </div>
      </form>
    </Dialog>
  );
}

// "Interactive": the grid is built and the first values are shown. Marked once per page
// load, for the browser test's benchmark (performance.getEntriesByName).
function markInteractive() {
  if (performance.getEntriesByName('dashboard-interactive').length === 0) {
    performance.mark('dashboard-interactive');
    document.body.dataset.dashboardReady = 'true';
  }
}
