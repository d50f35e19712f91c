// Unsaved work: a page that holds changes not yet saved registers a description here; the
// navigation links (main.tsx) and in-page switches ask before leaving, and the browser asks
// on unload (reload, closing the tab, typing another address).
let pending: string | null = null;
const listeners = new Set<() => void>();

export function setUnsaved(what: string | null): void {
  if (pending === what) return;
  pending = what;
  listeners.forEach((l) => l());
}

export function unsaved(): string | null {
  return pending;
}

window.addEventListener('beforeunload', (e) => {
  if (pending === null) return;
  e.preventDefault();
  e.returnValue = '';  // Chromium shows its own "Leave site?" text
});

// In-app navigation: resolves true when there is nothing to lose or the user chose to leave.
// The question is the page's <LeaveDialog> (main.tsx), asked through this hook.
let ask: ((what: string) => Promise<boolean>) | null = null;
export function setAsker(f: ((what: string) => Promise<boolean>) | null): void {
  ask = f;
}
export async function confirmLeave(): Promise<boolean> {
  if (pending === null) return true;
  const ok = ask ? await ask(pending) : window.confirm(`${pending} Leave without saving?`);
  if (ok) setUnsaved(null);
  return ok;
}
