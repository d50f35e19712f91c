// UC-003: counters — list with prefix search and cursor paging, create, edit, delete.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, CountPage, CountRecord, countsPath, get, inWords, problemText, query, request } from '../api';
import { Dialog, ErrorMessage, Field, formatNumber, formatTime, parseInteger } from '../ui';

const kIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

type FormFields = 'id' | 'description' | 'initialValue' | 'minValue' | 'maxValue';
type FormErrors = Partial<Record<FormFields | 'form', string>>;

// Where a refused request's problem belongs in the form (docs/API.md error table).
export function fieldOf(e: ApiError): FormFields | 'form' {
  switch (e.kind) {
    case 'already-exists':
    case 'invalid-count-id':
      return 'id';
    case 'out-of-bounds':
      return 'minValue';
  }
  const d = e.detail ?? '';
  for (const f of ['initialValue', 'minValue', 'maxValue', 'description'] as const) if (d.includes(f)) return f;
  if (/"id"|\bid\b/.test(d)) return 'id';
  return 'form';
}

const sentence = (s: string) => s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');

function CounterForm(p: { editing: CountRecord | null; onDone: (message: string, fresh?: string) => void; onCancel: () => void }) {
  const e = p.editing;
  const [v, setV] = useState<Record<FormFields, string>>({
    id: e?.id ?? '',
    description: e?.description ?? '',
    initialValue: '',
    minValue: e?.minValue === null || e?.minValue === undefined ? '' : String(e.minValue),
    maxValue: e?.maxValue === null || e?.maxValue === undefined ? '' : String(e.maxValue),
  });
  // A hot counter (docs/API.md, "Hot counters"): chosen at creation, and it has no bounds.
  const [sharded, setSharded] = useState(e?.sharded ?? false);
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  const set = (f: FormFields) => (value: string) => setV({ ...v, [f]: value });

  function validate(): FormErrors {
    const out: FormErrors = {};
    if (!e && !kIdPattern.test(v.id))
      out.id = 'Use 1–128 characters: letters, digits and . _ : - (starting with a letter or digit).';
    if (v.description.length > 1024) out.description = 'At most 1024 characters.';
    for (const f of sharded ? ['initialValue'] as const : ['initialValue', 'minValue', 'maxValue'] as const)
      if (parseInteger(v[f]) === undefined) out[f] = 'A whole number (signed 64-bit), or empty.';
    if (sharded) return out;
    const min = parseInteger(v.minValue), max = parseInteger(v.maxValue);
    if (!out.minValue && !out.maxValue && min !== null && max !== null && min !== undefined && max !== undefined &&
        BigInt(min) > BigInt(max))
      out.minValue = 'The minimum must not exceed the maximum.';
    return out;
  }

  async function submit(ev: Event) {
    ev.preventDefault();
    const found = validate();
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      if (e) {
        await request('PATCH', `${countsPath}/${encodeURIComponent(e.id)}`, {
          body: sharded ? { description: v.description }
            : { description: v.description, minValue: parseInteger(v.minValue), maxValue: parseInteger(v.maxValue) },
        });
        p.onDone(`Counter ${e.id} saved.`);
      } else {
        const body: Record<string, unknown> = { id: v.id.trim(), description: v.description };
        if (sharded) body.sharded = true;
        for (const f of sharded ? ['initialValue'] as const : ['initialValue', 'minValue', 'maxValue'] as const) {
          const n = parseInteger(v[f]);
          if (n !== null) body[f] = n;
        }
        await request('POST', countsPath, { body });
        p.onDone(`Counter ${v.id.trim()} created.`, v.id.trim());
      }
    } catch (err) {
      if (err instanceof ApiError && err.status !== 401) {
        const field = fieldOf(err);
        setErrors({ [field]: err.kind === 'already-exists' ? `A counter with the id “${v.id}” already exists.` : sentence(inWords(err.detail || err.title)) });
      } else if (!(err instanceof ApiError)) {
        setErrors({ form: problemText(err) });
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title={e ? `Edit ${e.id}` : 'New counter'} onClose={p.onCancel}>
      <form onSubmit={submit} noValidate>
        <Field label="Id" name="id" value={v.id} onInput={set('id')} error={errors.id} required readOnly={!!e}
          autoFocus={!e} hint={e ? 'The id cannot change.' : 'For example page.views or shop:cart-items'} />
        <Field label="Description" name="description" value={v.description} onInput={set('description')}
          error={errors.description} multiline autoFocus={!!e} />
        {!e && <Field label="Initial value" name="initialValue" value={v.initialValue} onInput={set('initialValue')}
          error={errors.initialValue} inputMode="numeric" hint="Empty: 0, or the bound nearest to 0." />}
        <label class="check">
          <input type="checkbox" name="sharded" checked={sharded} disabled={!!e}
            onChange={(ev) => setSharded((ev.currentTarget as HTMLInputElement).checked)} />
          Hot counter: spread its increments over every Redis shard (no bounds, no set; {e ? 'chosen at creation' : 'cannot change later'})
        </label>
        {!sharded && <div class="row">
          <Field label="Minimum" name="minValue" value={v.minValue} onInput={set('minValue')} error={errors.minValue}
            inputMode="numeric" hint="Empty: no bound." />
          <Field label="Maximum" name="maxValue" value={v.maxValue} onInput={set('maxValue')} error={errors.maxValue}
            inputMode="numeric" hint="Empty: no bound." />
        </div>}
        {errors.form && <ErrorMessage>{errors.form}</ErrorMessage>}
        <div class="actions">
          <button type="button" onClick={p.onCancel}>Cancel</button>
          <button type="submit" class="primary" disabled={busy}>{e ? 'Save' : 'Create'}</button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog(p: { counter: CountRecord; onDone: (message: string) => void; onCancel: () => void }) {
  const [purge, setPurge] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function confirm() {
    setBusy(true);
    try {
      await request('DELETE', `${countsPath}/${encodeURIComponent(p.counter.id)}${purge ? '?purgeHistory=true' : ''}`);
      p.onDone(`Counter ${p.counter.id} deleted.`);
    } catch (err) {
      setError(problemText(err));
      setBusy(false);
    }
  }
  return (
    <Dialog title={`Delete ${p.counter.id}?`} onClose={p.onCancel}>
      <p>The counter and its value ({formatNumber(p.counter.value)}) are removed. Services writing to it will get 404.</p>
      <label class="check">
        <input type="checkbox" checked={purge} onChange={(e) => setPurge((e.currentTarget as HTMLInputElement).checked)} />
        Also delete its history (otherwise it is kept for analysis)
      </label>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <div class="actions">
        <button type="button" onClick={p.onCancel} autoFocus>Cancel</button>
        <button type="button" class="danger" onClick={confirm} disabled={busy}>Delete</button>
      </div>
    </Dialog>
  );
}

export default function ManagementPage() {
  const [prefix, setPrefix] = useState('');
  const [limit, setLimit] = useState(20);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);  // cursor of each page seen
  const [page, setPage] = useState<CountPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [status, setStatus] = useState('');
  const [editing, setEditing] = useState<CountRecord | null | 'new'>(null);
  const [deleting, setDeleting] = useState<CountRecord | null>(null);
  const [reload, setReload] = useState(0);
  const [fresh, setFresh] = useState<string | null>(null);  // the counter just created
  const cursor = cursors[cursors.length - 1];
  const debounce = useRef<number>();

  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    get<CountPage>(countsPath + query({ prefix, limit, cursor }), ctl.signal)
      .then((p) => {
        setPage(p);
        setError(null);
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setError(problemText(e));
      })
      .finally(() => setLoading(false));
    return () => ctl.abort();
  }, [prefix, limit, cursor, reload]);

  function search(value: string) {
    window.clearTimeout(debounce.current);
    debounce.current = window.setTimeout(() => {
      setCursors([null]);
      setPrefix(value.trim());
    }, 200);
  }

  function done(message: string, created?: string) {
    setEditing(null);
    setDeleting(null);
    setStatus(message);
    setFresh(created ?? null);
    setReload((n) => n + 1);
  }

  const items = page?.items ?? [];
  const pageNumber = cursors.length;
  return (
    <section aria-labelledby="mgmt-title">
      <div class="page-head">
        <h1 id="mgmt-title">Counters</h1>
        <button type="button" class="primary" onClick={() => setEditing('new')}>New counter</button>
      </div>
      <form class="toolbar" role="search" onSubmit={(e) => e.preventDefault()}>
        <div class="field inline">
          <label for="search">Search by id prefix</label>
          <input id="search" type="search" placeholder="e.g. page." onInput={(e) => search((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <div class="field inline">
          <label for="page-size">Per page</label>
          <select id="page-size" value={limit} onChange={(e) => { setCursors([null]); setLimit(Number((e.currentTarget as HTMLSelectElement).value)); }}>
            {[20, 50, 100].map((n) => <option value={n}>{n}</option>)}
          </select>
        </div>
      </form>
      <p class="status" role="status" aria-live="polite">{status}</p>
      {error && <ErrorMessage>Could not load the counters. {error}</ErrorMessage>}
      {page && items.length === 0 && !loading && (
        <div class="empty">
          {prefix ? <p>No counter id starts with “{prefix}”.</p> : <p>No counters yet. Create the first one with <strong>New counter</strong>.</p>}
        </div>
      )}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="counters" aria-busy={loading}>
            <caption class="sr-only">Counters, page {pageNumber}</caption>
            <thead>
              <tr><th scope="col">Id</th><th scope="col" class="num">Value</th><th scope="col">Description</th>
                <th scope="col">Bounds</th><th scope="col">Updated</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id} data-id={c.id} class={c.id === fresh ? 'fresh' : undefined}
                  ref={c.id === fresh ? (el) => el?.scrollIntoView({ block: 'nearest' }) : undefined}>
                  <th scope="row" class="id">{c.id}</th>
                  <td class="num" data-label="Value">{formatNumber(c.value)}</td>
                  <td data-label="Description">{c.description || <span class="muted">—</span>}</td>
                  <td data-label="Bounds">{c.sharded ? <span class="muted" title="A hot counter, spread over the Redis shards: no bounds, no set">hot (sharded)</span>
                    : <>{c.minValue === null || c.minValue === undefined ? '−∞' : formatNumber(c.minValue)} … {c.maxValue === null || c.maxValue === undefined ? '∞' : formatNumber(c.maxValue)}</>}</td>
                  <td data-label="Updated">{formatTime(c.updatedAt)}</td>
                  <td class="row-actions">
                    <a class="button" href={`/analysis/?ids=${encodeURIComponent(c.id)}`} aria-label={`Analyse ${c.id}`}>Analyse</a>
                    <button type="button" onClick={() => setEditing(c)} aria-label={`Edit ${c.id}`}>Edit</button>
                    <button type="button" class="danger" onClick={() => setDeleting(c)} aria-label={`Delete ${c.id}`}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages of counters">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <span>Page {pageNumber}</span>
        <button type="button" disabled={!page?.nextCursor} onClick={() => setCursors([...cursors, page!.nextCursor])}>Next</button>
      </nav>
      {editing && <CounterForm editing={editing === 'new' ? null : editing} onDone={done} onCancel={() => setEditing(null)} />}
      {deleting && <DeleteDialog counter={deleting} onDone={done} onCancel={() => setDeleting(null)} />}
    </section>
  );
}
