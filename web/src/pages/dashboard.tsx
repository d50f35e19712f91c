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
import { confirmLeave, setUnsaved } from '../guard';
import { LiveState, LiveValues } from '../live';
import { Dialog, ErrorMessage, Field, useId } from '../ui';
import { Summary, WidgetView, WidgetKind, Widget, Layout, Dashboard, ViewOptions, useSummary } from './widgets';

const api = '/dashboard/api/v1';
const kColumns = 12;
const kCellHeight = 90;
const kNarrow = 640;  // at most: one column
const kMedium = 960;  // at most: six columns; layout editing by drag needs the full 12

// The size a new widget gets: enough for its content to read well.
const defaultSize: Record<WidgetKind, { w: number; h: number }> = {
  count: { w: 3, h: 2 },
  stat: { w: 4, h: 2 },
  chart: { w: 6, h: 4 },
  analysis: { w: 6, h: 4 },
};

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
  const [importing, setImporting] = useState(false);
  const [deleting, setDeleting] = useState<Dashboard | null>(null);
  const [reload, setReload] = useState(0);
  const [version, setVersion] = useState(0);  // bumped to rebuild the view from the store
  const [savedAt, setSavedAt] = useState<{ id: string; at: string } | null>(null);  // the last save here

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

  // A dashboard created or imported: listed and shown.
  function added(d: Dashboard) {
    setCreating(false);
    setImporting(false);
    setList([...(list ?? []), d]);
    choose(d.id);
  }

  async function switchTo(id: string | null) {
    if (await confirmLeave()) choose(id);
  }

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
  // Without a dashboard on show, a stream of the summary notices alone keeps the summary live
  // (a shown dashboard's stream brings them otherwise: one stream per page).
  const bare = list !== null && current === null;
  useEffect(() => {
    if (!bare) return;
    const notices = new LiveValues(null, []);
    void notices.start();
    return () => notices.stop();
  }, [bare]);
  return (
    <section aria-labelledby="dash-title" class="dashboards">
      <div class="page-head">
        <h1 id="dash-title">Dashboards</h1>
        <div class="toolbar">
          {list && list.length > 0 && (
            <div class="field inline">
              <label for="dash-select">Dashboard</label>
              <select id="dash-select" value={selected ?? ''} onChange={(e) => {
                const el = e.currentTarget as HTMLSelectElement;
                const to = el.value;
                el.value = selected ?? '';  // until the switch is confirmed
                void switchTo(to);
              }}>
                {!current && <option value="">Choose…</option>}
                {list.map((d) => <option value={d.id}>{d.name}</option>)}
              </select>
            </div>
          )}
          <button type="button" onClick={async () => (await confirmLeave()) && setCreating(true)}>New dashboard</button>
          <button type="button" onClick={async () => (await confirmLeave()) && setImporting(true)}>Import JSON</button>
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
          savedAt={savedAt?.id === current.id ? savedAt.at : null}
          onSaved={(d, saved) => {
            setList(list!.map((x) => (x.id === d.id ? d : x)));
            if (saved) setSavedAt({ id: d.id, at: new Date().toLocaleTimeString() });
            setVersion((n) => n + 1);
          }}
          onReload={() => setVersion((n) => n + 1)} />
      )}
      {creating && <CreateDialog existing={list ?? []} onCancel={() => setCreating(false)} onCreated={added} />}
      {importing && <ImportDialog existing={list ?? []} onCancel={() => setImporting(false)} onImported={added} />}
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

function freeId(wanted: string, existing: Dashboard[]): string {
  let id = wanted;
  for (let n = 2; existing.some((d) => d.id === id); n++) id = `${wanted.slice(0, 120)}-${n}`;
  return id;
}

// Import: a file as Export JSON writes it (or a GET's body). The server checks it like any
// other dashboard (problem+json, nothing stored on a bad file); an id in use gets a suffix.
function ImportDialog(p: { existing: Dashboard[]; onCancel: () => void; onImported: (d: Dashboard) => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const fileId = useId('import-file');
  async function submit(e: Event) {
    e.preventDefault();
    const input = (e.currentTarget as HTMLFormElement).elements.namedItem('file') as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return setError('Choose a dashboard file (.json) first.');
    if (file.size > 64 * 1024) return setError('This file is larger than a dashboard can be (64 KiB).');
    let parsed: unknown;
    try {
      parsed = JSON.parse(await file.text());
    } catch {
      return setError('This file is not JSON. Choose a file made by “Export JSON”.');
    }
    const o = parsed as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || Array.isArray(o) || typeof o.name !== 'string')
      return setError('This JSON is not a dashboard: it needs at least a "name" and a list of "widgets".');
    const body = { ...o, id: freeId(typeof o.id === 'string' && o.id ? o.id : slug(o.name), p.existing) };
    setBusy(true);
    try {
      p.onImported(await request<Dashboard>('POST', `${api}/dashboards`, { body }));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401))
        setError(`Not imported. ${problemText(err)}${widgetHint(err, Array.isArray(o.widgets) ? (o.widgets as Widget[]) : [])}`);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title="Import a dashboard" onClose={p.onCancel}>
      <form onSubmit={submit} noValidate>
        <div class="field">
          <label for={fileId}>Dashboard file (JSON)</label>
          <input id={fileId} name="file" type="file" accept="application/json,.json"
            aria-invalid={error ? true : undefined} aria-describedby={error ? `${fileId}-error` : undefined} />
          {error && <small id={`${fileId}-error`} class="error" role="alert">{error}</small>}
        </div>
        <p class="hint">A file from “Export JSON” on this or another Count console. Its counters must exist here.</p>
        <div class="actions">
          <button type="button" onClick={p.onCancel}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>Import</button>
        </div>
      </form>
    </Dialog>
  );
}

function CreateDialog(p: { existing: Dashboard[]; onCancel: () => void; onCreated: (d: Dashboard) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  async function submit(e: Event) {
    e.preventDefault();
    if (!name.trim()) return setError('Give the dashboard a name.');
    const id = freeId(slug(name), p.existing);
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
  const summary = useSummary();
  if (summary === 'failed') return <p class="muted">Summary statistics are not available right now.</p>;
  return summary ? <Summary data={summary} /> : <div class="skeleton summary-bar" aria-busy="true" aria-label="Loading the summary" />;
}

// onSaved: the stored dashboard to show, `saved` when this page saved it (not just loaded it).
interface GridProps { initial: Dashboard; savedAt: string | null; onSaved: (d: Dashboard, saved: boolean) => void; onReload: () => void }

// The dashboard-wide range and refresh of analysis and chart widgets.
const ranges = ['', '1h', '6h', '24h', '7d', '30d', '90d'];
const refreshes: { ms: number; label: string }[] = [
  { ms: 0, label: 'off' }, { ms: 30_000, label: '30 s' }, { ms: 60_000, label: '1 min' }, { ms: 300_000, label: '5 min' },
];

function DashboardView({ initial, savedAt, onSaved, onReload }: GridProps) {
  const [model, setModel] = useState<Dashboard>(initial);
  const [editing, setEditing] = useState(false);
  const [dirty, setDirty] = useState(false);
  const [optionsFor, setOptionsFor] = useState<Widget | 'new' | null>(null);
  const [state, setState] = useState<LiveState>('connecting');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [saving, setSaving] = useState(false);
  const [narrow, setNarrow] = useState(window.innerWidth <= kMedium);
  const [view, setView] = useState<ViewOptions>({ range: '', refreshMs: 0, tick: 0 });
  const gridEl = useRef<HTMLDivElement>(null);
  const grid = useRef<GridStack | null>(null);
  const live = useRef<LiveValues | null>(null);
  const items = useRef(new Map<string, GridItemHTMLElement>());
  const modelRef = useRef(model);
  modelRef.current = model;
  const editingRef = useRef(editing);
  editingRef.current = editing;
  const viewRef = useRef(view);
  viewRef.current = view;

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

  // Unsaved work is guarded: links, the dashboard switch, reload and closing the tab ask first.
  useEffect(() => {
    setUnsaved(dirty ? `Dashboard “${model.name}” has unsaved changes.` : null);
  }, [dirty, model.name]);
  useEffect(() => () => setUnsaved(null), []);

  // The grid, built once per loaded dashboard.
  useEffect(() => {
    const g = GridStack.init({
      column: kColumns,
      cellHeight: kCellHeight,
      margin: 6,
      float: false,
      staticGrid: true,
      animate: false,
      draggable: { handle: '.widget-head' },
      resizable: { handles: 'se,e,s' },
      alwaysShowResizeHandle: true,  // in edit mode (the grid is static otherwise)
    }, gridEl.current!);
    grid.current = g;
    g.batchUpdate();
    for (const w of initial.widgets) mount(w);
    g.batchUpdate(false);
    // Responsive, once the 12-column layout is in place: 6 columns on a medium window (packed
    // in reading order), one on a narrow one (a list in reading order). gridstack keeps the
    // 12-column layout and returns to it; only that layout is edited and saved.
    g.updateOptions({
      columnOpts: {
        breakpointForWindow: true,
        columnMax: kColumns,
        breakpoints: [{ w: kMedium, c: 6, layout: 'compact' }, { w: kNarrow, c: 1, layout: 'list' }],  // wide to narrow
      },
    });
    g.on('change', () => {
      if (editingRef.current && g.getColumn() === kColumns) setDirty(true);
    });
    const onResize = () => setNarrow(window.innerWidth <= kMedium);
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

  useEffect(() => rerenderAll(), [view]);

  // The dashboard-wide refresh: every `refreshMs`, analysis and chart widgets reload.
  useEffect(() => {
    if (!view.refreshMs) return;
    const t = window.setInterval(() => setView((v) => ({ ...v, tick: v.tick + 1 })), view.refreshMs);
    return () => window.clearInterval(t);
  }, [view.refreshMs]);

  function mount(w: Widget, auto = false) {
    const g = grid.current!;
    const el = document.createElement('div') as unknown as GridItemHTMLElement;
    el.className = 'grid-stack-item';
    el.dataset.widgetId = w.id;
    const content = document.createElement('div');
    content.className = 'grid-stack-item-content';
    el.appendChild(content);
    gridEl.current!.appendChild(el);
    // auto: the first place where the widget fits, left to right, then row after row.
    g.makeWidget(el, auto ? { id: w.id, w: w.layout.w, h: w.layout.h, autoPosition: true } : { id: w.id, ...w.layout });
    items.current.set(w.id, el);
    renderWidget(w);
  }

  function renderWidget(w: Widget) {
    const el = items.current.get(w.id);
    if (!el) return;
    render(
      <WidgetView widget={w} live={live.current!} editing={editingRef.current} view={viewRef.current}
        onOptions={() => {
          // The options show where the widget is now, dragged or not.
          const current = modelRef.current.widgets.find((x) => x.id === w.id);
          const shown = layouts().get(w.id);
          setOptionsFor(current ? { ...current, layout: shown ?? current.layout } : null);
        }}
        onDuplicate={() => duplicate(w.id)}
        onKey={(e) => moveByKey(w.id, e)}
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

  // The model with the positions the grid shows.
  function current(): Dashboard {
    const pos = layouts();
    return { ...modelRef.current, widgets: modelRef.current.widgets.map((w) => ({ ...w, layout: pos.get(w.id) ?? w.layout })) };
  }

  function changed(next: Dashboard, message: string) {
    modelRef.current = next;
    setModel(next);
    setDirty(true);
    setStatus(message);
  }

  function removeWidget(id: string) {
    const el = items.current.get(id);
    if (el) {
      render(null, el.querySelector('.grid-stack-item-content')!);
      grid.current!.removeWidget(el, true);
      items.current.delete(id);
    }
    changed({ ...modelRef.current, widgets: modelRef.current.widgets.filter((w) => w.id !== id) }, 'Widget removed.');
    document.getElementById('add-widget')?.focus();
  }

  function duplicate(id: string) {
    const m = current();
    const w = m.widgets.find((x) => x.id === id);
    if (!w) return;
    const copy = { ...w, id: nextWidgetId(m.widgets), title: `${w.title || w.id} (copy)`.slice(0, 200) };
    changed({ ...m, widgets: [...m.widgets, copy] }, `Widget ${copy.title} added.`);
    mount(copy, true);
  }

  // Keyboard: arrows move the focused widget by a cell, Shift + arrows resize it.
  function moveByKey(id: string, e: KeyboardEvent) {
    const step: Record<string, [number, number]> = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const d = step[e.key];
    const el = items.current.get(id);
    if (!d || !el || !editingRef.current || narrow) return;
    e.preventDefault();
    const n = el.gridstackNode!;
    const [x, y, w, h] = [n.x ?? 0, n.y ?? 0, n.w ?? 1, n.h ?? 1];
    const next = e.shiftKey
      ? { w: Math.min(kColumns - x, Math.max(1, w + d[0])), h: Math.min(24, Math.max(1, h + d[1])) }
      : { x: Math.min(kColumns - w, Math.max(0, x + d[0])), y: Math.max(0, y + d[1]) };
    grid.current!.update(el, next);
    setDirty(true);
    const m = el.gridstackNode!;
    const title = modelRef.current.widgets.find((x) => x.id === id)?.title || id;
    setStatus(`${title}: column ${m.x! + 1}, row ${m.y! + 1}, ${m.w} wide, ${m.h} high.`);
  }

  function applyOptions(w: Widget, isNew: boolean, auto: boolean) {
    setOptionsFor(null);
    const m = current();
    const widgets = isNew ? [...m.widgets, w] : m.widgets.map((x) => (x.id === w.id ? w : x));
    changed({ ...m, widgets }, `Widget ${w.title} ${isNew ? 'added' : 'updated'}.`);
    live.current?.add(w.countIds);
    if (isNew) {
      mount(w, auto);
    } else {
      // A position applies to the 12-column grid; with fewer columns it shows once there.
      if (grid.current!.getColumn() === kColumns) grid.current!.update(items.current.get(w.id)!, { ...w.layout });
      renderWidget(w);
    }
  }

  async function save(force = false) {
    const body = current();
    setSaving(true);
    try {
      // If-Match: the version this editor started from; another save since → 409.
      const saved = await request<Dashboard>('PUT', `${api}/dashboards/${encodeURIComponent(model.id)}`,
        { body: { name: body.name, widgets: body.widgets }, headers: force ? {} : { 'If-Match': `"${model.version}"` } });
      setError(null);
      setConflict(false);
      setEditing(false);
      setDirty(false);
      setUnsaved(null);
      onSaved(saved, true);  // remounts this view from the stored dashboard (and resubscribes)
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      if (e instanceof ApiError && e.kind === 'edit-conflict') {
        setConflict(true);
        setError('Not saved: someone else saved this dashboard after you opened it. Load their version (your changes here are dropped), or save yours over it.');
      } else {
        setError(`Not saved. ${problemText(e)}${widgetHint(e, body.widgets)}`);
      }
    } finally {
      setSaving(false);
    }
  }

  async function loadStored() {
    try {
      const d = await request<Dashboard>('GET', `${api}/dashboards/${encodeURIComponent(model.id)}`);
      setDirty(false);
      setUnsaved(null);
      onSaved(d, false);
    } catch (e) {
      setError(problemText(e));
    }
  }

  function cancel() {
    setDirty(false);
    setUnsaved(null);
    onReload();  // rebuilt from the stored version
  }

  function exportJson() {
    const d = current();
    const file = { id: d.id, name: d.name, widgets: d.widgets };
    const url = URL.createObjectURL(new Blob([JSON.stringify(file, null, 2) + '\n'], { type: 'application/json' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `dashboard-${d.id}.json`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    setStatus(`Exported ${a.download}.`);
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
              <button type="button" class="primary" onClick={() => save()} disabled={saving}>{saving ? 'Saving…' : 'Save layout'}</button>
            </>
          ) : (
            <>
              <button type="button" onClick={exportJson}>Export JSON</button>
              <button type="button" onClick={() => setEditing(true)}>Edit dashboard</button>
            </>
          )}
        </div>
      </div>
      <div class="view-bar">
        <div class="field inline">
          <label for="dash-range">Time range</label>
          <select id="dash-range" value={view.range} onChange={(e) => setView({ ...view, range: (e.currentTarget as HTMLSelectElement).value })}>
            {ranges.map((r) => <option value={r}>{r ? `last ${r}` : 'each widget’s own'}</option>)}
          </select>
        </div>
        <div class="field inline">
          <label for="dash-refresh">Refresh charts</label>
          <select id="dash-refresh" value={view.refreshMs} onChange={(e) => setView({ ...view, refreshMs: Number((e.currentTarget as HTMLSelectElement).value) })}>
            {refreshes.map((r) => <option value={r.ms}>{r.label}</option>)}
          </select>
        </div>
        <button type="button" onClick={() => setView({ ...view, tick: view.tick + 1 })}>Refresh now</button>
        <p class={`save-state${dirty ? ' dirty' : ''}`} data-dirty={dirty}>
          {dirty ? 'Unsaved changes' : savedAt ? `Saved at ${savedAt}` : 'All changes saved'}
        </p>
      </div>
      <p class="status" role="status">{status}</p>
      {editing && (
        <p class="hint">Drag a widget by its title bar and resize it from its edges; or focus its title bar and use the arrow keys to move it, Shift + arrows to resize it. {narrow ? 'In a narrow window the grid has fewer columns: widen it, or use each widget’s options, to arrange.' : ''}</p>
      )}
      {error && (
        <ErrorMessage>
          {error}
          {conflict && (
            <span class="actions">
              <button type="button" onClick={loadStored}>Load their version</button>
              <button type="button" class="danger" onClick={() => save(true)}>Save mine over it</button>
            </span>
          )}
        </ErrorMessage>
      )}
      {empty && !editing && (
        <div class="empty">
          <p><strong>This dashboard has no widgets yet.</strong> A widget shows counters live: their value, a chart over time, statistics, or a trend analysis.</p>
          <button type="button" class="primary" onClick={() => { setEditing(true); setOptionsFor('new'); }}>Add a widget</button>
        </div>
      )}
      <div class={`grid-stack${editing ? ' editing' : ''}`} ref={gridEl} role="region" aria-label={`Widgets of ${model.name}`} />
      {optionsFor && (
        <WidgetOptions
          widget={optionsFor === 'new' ? null : optionsFor}
          fresh={{ id: nextWidgetId(model.widgets), type: 'count', title: '', countIds: [], chartType: '', period: '', unit: '', layout: { x: 0, y: 0, ...defaultSize.count } }}
          onCancel={() => setOptionsFor(null)}
          onApply={(w, auto) => applyOptions(w, optionsFor === 'new', auto)} />
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

// `auto` in onApply: a new widget without a column and row goes where it first fits.
function WidgetOptions(p: { widget: Widget | null; fresh: Widget; onCancel: () => void; onApply: (w: Widget, auto: boolean) => void }) {
  const [w, setW] = useState<Widget>(p.widget ?? p.fresh);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const isNew = !p.widget;
  const [layout, setLayout] = useState({
    x: isNew ? '' : String(w.layout.x), y: isNew ? '' : String(w.layout.y), w: String(w.layout.w), h: String(w.layout.h),
  });
  const [sized, setSized] = useState(!isNew);  // the user chose a size: a type change keeps it
  const id = useId('wopt');
  const set = (patch: Partial<Widget>) => setW({ ...w, ...patch });

  function changeType(type: WidgetKind) {
    // Options a type does not take are cleared (the API refuses them).
    set({ type, chartType: '', period: type === 'count' ? '' : w.period || '24h', unit: type === 'chart' || type === 'analysis' ? w.unit : '' });
    if (!sized) setLayout({ ...layout, w: String(defaultSize[type].w), h: String(defaultSize[type].h) });
  }

  function submit(e: Event) {
    e.preventDefault();
    const out: Record<string, string> = {};
    if (!w.title.trim()) out.title = 'Give the widget a title.';
    if (w.title.length > 200) out.title = 'At most 200 characters.';
    if (w.type !== 'stat' && w.countIds.length === 0) out.countIds = 'Choose at least one counter.';
    if (w.type === 'analysis' && w.chartType === 'comparison' && w.countIds.length < 2) out.countIds = 'A comparison needs at least two counters.';
    const auto = isNew && layout.x.trim() === '' && layout.y.trim() === '';
    const n: Layout = auto ? { x: 0, y: 0, w: Number(layout.w), h: Number(layout.h) }
      : { x: Number(layout.x), y: Number(layout.y), w: Number(layout.w), h: Number(layout.h) };
    if (!auto && isNew && (layout.x.trim() === '' || layout.y.trim() === '')) out.layout = 'Give both the column and the row, or neither (the first free place).';
    else if (![n.x, n.y, n.w, n.h].every(Number.isInteger)) out.layout = 'Whole numbers only.';
    else if (n.x < 0 || n.y < 0) out.layout = 'Column and row start at 0.';
    else if (n.w < 1 || n.x + n.w > kColumns) out.layout = `Width from 1, and column + width at most ${kColumns}.`;
    else if (n.h < 1 || n.h > 24) out.layout = 'Height from 1 to 24 rows.';
    setErrors(out);
    if (Object.keys(out).length) return;
    p.onApply({ ...w, title: w.title.trim(), layout: n }, auto);
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
                placeholder={isNew && (k === 'x' || k === 'y') ? 'auto' : undefined}
                onInput={(v) => { setLayout({ ...layout, [k]: v }); if (k === 'w' || k === 'h') setSized(true); }} />
            ))}
          </div>
          {isNew && <small class="hint">Column and row empty: the first free place, filling each row from the left.</small>}
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
