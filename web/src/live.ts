// Live counter values for a dashboard: Server-Sent Events from /dashboard/events (a short-lived
// token from /dashboard/events/tokens, never the API key in a URL), with the read API polled
// whenever the stream is not open. The newest value wins, whichever path brought it. The same
// stream (?summary=true) says when any counter changed, for the views that summarise them all.
import { ApiError, Int, get, request } from './api';

export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'polling';

export interface LiveValue {
  value: Int;
  updatedAt: string;  // RFC 3339
  missing?: boolean;  // the counter no longer exists
}

interface ReadBatch {
  counts: { id: string; value: Int; updatedAt: string }[];
  missing: string[];
}

const kPollMs = 2000;

// For views that summarise every counter (the summary bar, the system widget): 'change' when
// some counter changed — the stream's `summary` notice (at most one a second, for any counter),
// a stream (re)opened (notices may have been missed), or a value a poll found changed while
// the stream is down. summaryIsLive() says whether a stream brings the notices now; while
// none does, those views fall back to a timer.
export const valueChanges = new EventTarget();
const announce = () => valueChanges.dispatchEvent(new Event('change'));
const liveStreams = new Set<LiveValues>();
export const summaryIsLive = () => liveStreams.size > 0;

export class LiveValues {
  readonly values = new Map<string, LiveValue>();
  state: LiveState = 'connecting';
  lastEventAt: number | null = null;
  private listeners = new Set<() => void>();
  private source: EventSource | null = null;
  private pollTimer: number | undefined;
  private retryTimer: number | undefined;
  private retries = 0;
  private stopped = false;
  private firstValues: Promise<void> | null = null;

  // Without a dashboard: a stream of the summary notices only (a page that shows no dashboard).
  constructor(private readonly dashboardId: string | null, private readonly countIds: string[]) {}

  // Counters of widgets added while editing: read once now; the stream subscribes to them
  // once the dashboard is saved (it follows the stored dashboard).
  add(ids: string[]): void {
    const fresh = ids.filter((id) => !this.countIds.includes(id));
    if (fresh.length === 0) return;
    this.countIds.push(...fresh);
    void this.poll();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Resolves once the first values arrived (from the read API, which answers fastest).
  start(): Promise<void> {
    this.firstValues = this.poll();
    this.connect();
    return this.firstValues;
  }

  stop(): void {
    this.stopped = true;
    liveStreams.delete(this);
    this.source?.close();
    this.source = null;
    window.clearInterval(this.pollTimer);
    window.clearTimeout(this.retryTimer);
    this.listeners.clear();
  }

  private emit(): void {
    this.listeners.forEach((l) => l());
  }

  private setState(state: LiveState): void {
    if (this.state === state) return;
    this.state = state;
    if (state === 'live') liveStreams.add(this);
    else liveStreams.delete(this);
    if (state === 'live') {
      window.clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    } else if (this.pollTimer === undefined && this.countIds.length) {
      this.pollTimer = window.setInterval(() => void this.poll(), kPollMs);
    }
    this.emit();
  }

  private put(id: string, value: Int, updatedAt: string): boolean {
    const old = this.values.get(id);
    if (old && !old.missing && old.updatedAt > updatedAt) return false;
    if (old && old.value === value && old.updatedAt === updatedAt) return false;
    this.values.set(id, { value, updatedAt });
    return true;
  }

  private async poll(): Promise<void> {
    let changed = false;
    for (let i = 0; i < this.countIds.length; i += 100) {
      const ids = this.countIds.slice(i, i + 100);
      try {
        const batch = await get<ReadBatch>(`/api/v1/counts?ids=${ids.map(encodeURIComponent).join(',')}`);
        for (const c of batch.counts) changed = this.put(c.id, c.value, c.updatedAt) || changed;
        for (const id of batch.missing) {
          this.values.set(id, { value: 0, updatedAt: '', missing: true });
          changed = true;
        }
      } catch {
        /* the next poll tries again; the state shows the connection */
      }
    }
    if (changed) {
      this.emit();
      if (this.firstValues) announce();
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let token: string;
    try {
      token = (await request<{ token: string }>('POST', '/dashboard/events/tokens', { body: {} })).token;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      this.setState('polling');
      this.retry();
      return;
    }
    if (this.stopped) return;
    const of = this.dashboardId === null ? '' : `dashboardId=${encodeURIComponent(this.dashboardId)}&`;
    const url = `/dashboard/events?${of}summary=true&token=${encodeURIComponent(token)}`;
    const source = new EventSource(url);
    this.source = source;
    source.onopen = () => {
      this.retries = 0;
      this.setState('live');
      announce();
    };
    const onInitial = (e: MessageEvent) => {
      this.lastEventAt = Date.now();
      let changed = false;
      const data = JSON.parse(e.data);
      for (const c of initialCounts(data)) changed = this.put(c.id, c.value, c.updatedAt) || changed;
      for (const id of (Array.isArray(data?.missing) ? data.missing : []) as string[]) {
        this.values.set(id, { value: 0, updatedAt: '', missing: true });
        changed = true;
      }
      if (changed) this.emit();
    };
    const onUpdate = (e: MessageEvent) => {
      this.lastEventAt = Date.now();
      const d = JSON.parse(e.data) as { countId: string; value: Int; timestamp: string };
      if (this.put(d.countId, d.value, d.timestamp)) this.emit();
    };
    const onDeleted = (e: MessageEvent) => {
      const d = JSON.parse(e.data) as { countId: string };
      this.values.set(d.countId, { value: 0, updatedAt: '', missing: true });
      this.emit();
    };
    source.addEventListener('initial', onInitial);
    source.addEventListener('count_updated', onUpdate);
    source.addEventListener('count_created', onUpdate);
    source.addEventListener('count_deleted', onDeleted);
    source.addEventListener('summary', announce);
    source.onerror = () => {
      if (this.stopped) return;
      // CONNECTING: the browser reconnects by itself (with Last-Event-ID); CLOSED: the server
      // refused (an expired token, a full server): fetch a new token after a pause.
      this.setState(this.retries > 2 ? 'polling' : 'reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        this.retry();
      }
    };
  }

  private retry(): void {
    const delay = Math.min(15_000, 1000 * 2 ** this.retries++);
    window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => void this.connect(), delay);
  }
}

// The `initial` event's data: the current values of the subscribed counters,
// {"counts":[{"countId","value","updatedAt"}],"missing":[ids]} (a bare array is accepted too).
function initialCounts(data: unknown): { id: string; value: Int; updatedAt: string }[] {
  const obj = data as Record<string, unknown>;
  const list = (Array.isArray(data) ? data : (obj.counts ?? obj.values ?? obj.items ?? [])) as Record<string, unknown>[];
  return list
    .filter((c) => c && (typeof c.id === 'string' || typeof c.countId === 'string') && c.value !== undefined && c.value !== null)
    .map((c) => ({
      id: (c.id ?? c.countId) as string,
      value: c.value as Int,
      updatedAt: (c.updatedAt ?? c.timestamp ?? new Date().toISOString()) as string,
    }));
}
