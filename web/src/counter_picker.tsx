// Choose counters by id prefix (from the management list) or by typing an id; chosen ones
// are chips with a remove button. Used by the analysis page and the widget options.
import { useEffect, useState } from 'preact/hooks';
import { CountPage, countsPath, get, query } from './api';
import { useId } from './ui';

const kShown = 12;

export function CounterPicker(p: { value: string[]; onChange: (ids: string[]) => void; label?: string; error?: string; max?: number }) {
  const [text, setText] = useState('');
  const [matches, setMatches] = useState<string[]>([]);
  const [more, setMore] = useState<{ n: number; plus: boolean }>({ n: 0, plus: false });  // beyond those shown
  const id = useId('picker');
  useEffect(() => {
    const ctl = new AbortController();
    const t = window.setTimeout(() => {
      // One page of 100 tells how many more match than the 12 shown (or that over 100 do).
      get<CountPage>(countsPath + query({ prefix: text.trim(), limit: 100 }), ctl.signal)
        .then((page) => {
          setMatches(page.items.slice(0, kShown).map((c) => c.id));
          setMore({ n: Math.max(0, page.items.length - kShown), plus: page.nextCursor !== null });
        })
        .catch(() => setMatches([]));
    }, 150);
    return () => {
      window.clearTimeout(t);
      ctl.abort();
    };
  }, [text]);
  const full = p.max !== undefined && p.value.length >= p.max;
  const toggle = (cid: string, on: boolean) =>
    p.onChange(on ? (p.value.includes(cid) || full ? p.value : [...p.value, cid]) : p.value.filter((x) => x !== cid));
  return (
    <fieldset class={`picker${p.error ? ' invalid' : ''}`} aria-describedby={p.error ? `${id}-error` : undefined}>
      <legend>{p.label ?? 'Counters'}</legend>
      <ul class="chips" aria-label="Chosen counters">
        {p.value.length === 0 && <li class="muted">None chosen yet.</li>}
        {p.value.map((cid) => (
          <li key={cid} class="chip">
            {cid}
            <button type="button" class="icon" onClick={() => toggle(cid, false)} aria-label={`Remove ${cid}`}>×</button>
          </li>
        ))}
      </ul>
      <div class="field">
        <label for={`${id}-find`}>Find counters by id prefix</label>
        <input id={`${id}-find`} type="search" value={text} autoComplete="off"
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              const exact = matches.find((m) => m === text.trim()) ?? (matches.length === 1 ? matches[0] : undefined);
              if (exact) { toggle(exact, true); setText(''); }
            }
          }} />
      </div>
      {matches.length > 0 ? (
        <ul class="matches" aria-label="Matching counters">
          {matches.map((m) => (
            <li key={m}>
              <label class="check">
                <input type="checkbox" checked={p.value.includes(m)} disabled={full && !p.value.includes(m)}
                  onChange={(e) => toggle(m, (e.currentTarget as HTMLInputElement).checked)} />
                {m}
              </label>
            </li>
          ))}
        </ul>
      ) : null}
      {matches.length > 0 && (more.n > 0 || more.plus) && (
        <p class="muted more">{more.plus ? `…and more than ${more.n} more match` : `…and ${more.n} more match`}: type more of the id to narrow the list.</p>
      )}
      {matches.length === 0 && (
        <p class="muted">No counter matches. Counters are created on the <a href="/management/">Counters</a> page.</p>
      )}
      {p.error && <small id={`${id}-error`} class="error" role="alert">{p.error}</small>}
    </fieldset>
  );
}
