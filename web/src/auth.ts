// The API key lives in sessionStorage: kept while the tab lives, shared by the three pages of
// one origin, gone when the browser session ends. It is sent only in Authorization headers.
const kKey = 'count.apiKey';

type Listener = (reason: string | null) => void;
const listeners = new Set<Listener>();

export function apiKey(): string | null {
  return sessionStorage.getItem(kKey);
}

export function signIn(key: string): void {
  sessionStorage.setItem(kKey, key);
  listeners.forEach((l) => l(null));
}

// `reason` is shown on the login screen ("the key was refused", …).
export function signOut(reason: string | null = null): void {
  sessionStorage.removeItem(kKey);
  listeners.forEach((l) => l(reason));
}

export function onAuthChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
