// The console: one app for its pages, chosen by the path prefix the serving service owns
// (/management, /analysis, /dashboard, /docs). Each page is its own chunk, loaded on demand.
// The API reference (/docs) is public like the document it shows; the others need a key.
import { render } from 'preact';
import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { countsPath } from './api';
import { apiKey, onAuthChange, signIn, signOut } from './auth';
import { confirmLeave, setAsker } from './guard';
import { Dialog, ErrorMessage } from './ui';

type PageName = 'management' | 'analysis' | 'dashboard' | 'docs';

const pages: { name: PageName; label: string; load: () => Promise<{ default: ComponentType }>; open?: boolean }[] = [
  { name: 'management', label: 'Counters', load: () => import('./pages/management') },
  { name: 'analysis', label: 'Analysis', load: () => import('./pages/analysis') },
  { name: 'dashboard', label: 'Dashboards', load: () => import('./pages/dashboard') },
  { name: 'docs', label: 'API', load: () => import('./pages/docs'), open: true },
];

function currentPage(): PageName {
  const first = location.pathname.split('/')[1] as PageName;
  return pages.some((p) => p.name === first) ? first : 'management';
}

function Login({ reason }: { reason: string | null }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    const k = key.trim();
    if (!k) return setError('Enter an API key.');
    setBusy(true);
    setError(null);
    // Check the key before keeping it: the console needs the admin scope.
    try {
      const res = await fetch(`${countsPath}?limit=1`, { headers: { Authorization: `Bearer ${k}` } });
      if (res.status === 401) setError('This API key is not valid.');
      else if (res.status === 403) setError('This API key lacks the admin scope the console needs.');
      else if (!res.ok && res.status >= 500) setError(`The server answered ${res.status}; try again.`);
      else signIn(k);
    } catch {
      setError('The server did not answer; check that it is running.');
    } finally {
      setBusy(false);
    }
  }
  return (
    <main class="login" id="main">
      <form onSubmit={submit} aria-labelledby="login-title" class="card">
        <h1 id="login-title">Count console</h1>
        <p>Sign in with an API key that has the <code>admin</code> scope. Standalone prints it at start
          (and keeps it in <code>count-data/admin.key</code>).</p>
        {reason && <p class="message warn" role="status">{reason}</p>}
        <div class="field">
          <label for="api-key">API key</label>
          <input id="api-key" name="apiKey" type="password" autoComplete="current-password" autoFocus
            value={key} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)}
            aria-invalid={error ? true : undefined} aria-describedby={error ? 'api-key-error' : undefined} />
          {error && <small id="api-key-error" class="error" role="alert">{error}</small>}
        </div>
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
        <p class="hint">The key is kept in this browser tab's session storage only.</p>
      </form>
    </main>
  );
}

function Shell({ signedIn }: { signedIn: boolean }) {
  const page = currentPage();
  const [Page, setPage] = useState<ComponentType | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  // The question before leaving unsaved work (guard.ts): asked here, answered by a button.
  const [leaving, setLeaving] = useState<{ what: string; answer: (ok: boolean) => void } | null>(null);
  useEffect(() => {
    setAsker((what) => new Promise((answer) => setLeaving({ what, answer })));
    return () => setAsker(null);
  }, []);
  const answer = (ok: boolean) => {
    leaving?.answer(ok);
    setLeaving(null);
  };
  async function follow(e: MouseEvent, href: string) {
    if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;  // a new tab loses nothing
    e.preventDefault();
    if (await confirmLeave()) location.assign(href);
  }
  useEffect(() => {
    const entry = pages.find((p) => p.name === page)!;
    document.title = `${entry.label} · Count console`;
    entry.load().then((m) => setPage(() => m.default), (e) => setLoadError(String(e)));
  }, [page]);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">Count console</span>
        <nav aria-label="Pages">
          <ul>
            {pages.map((p) => (
              <li key={p.name}>
                <a href={`/${p.name}/`} aria-current={p.name === page ? 'page' : undefined}
                  onClick={(e) => follow(e as unknown as MouseEvent, `/${p.name}/`)}>{p.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        {signedIn && (
          <button type="button" class="link" onClick={async () => (await confirmLeave()) && signOut(null)}>Sign out</button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {loadError && <ErrorMessage>The page could not be loaded: {loadError}</ErrorMessage>}
        {Page ? <Page /> : !loadError && <div class="skeleton page" aria-busy="true" aria-label="Loading" />}
      </main>
      {leaving && (
        <Dialog title="Leave without saving?" onClose={() => answer(false)}>
          <p>{leaving.what} They are lost if you leave now.</p>
          <div class="actions">
            <button type="button" autoFocus onClick={() => answer(false)}>Stay on this page</button>
            <button type="button" class="danger" onClick={() => answer(true)}>Leave without saving</button>
          </div>
        </Dialog>
      )}
    </>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(apiKey() !== null);
  const [reason, setReason] = useState<string | null>(null);
  useEffect(
    () =>
      onAuthChange((why) => {
        setSignedIn(apiKey() !== null);
        setReason(why);
      }),
    [],
  );
  const open = pages.find((p) => p.name === currentPage())?.open === true;
  return signedIn || open ? <Shell signedIn={signedIn} /> : <Login reason={reason} />;
}

const root = document.getElementById('app')!;
root.textContent = '';  // the boot message
render(<App />, root);
