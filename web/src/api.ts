// fetch with the API key, RFC 9457 problems as ApiError, and any 401 back to the login screen.
import { apiKey, signOut } from './auth';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string;
  constructor(p: Problem) {
    super(p.detail || p.title);
    this.status = p.status;
    this.type = p.type;
    this.title = p.title;
    this.detail = p.detail;
  }
  // The problem kind: "/problems/already-exists" → "already-exists".
  get kind(): string {
    return this.type.replace(/^.*\/problems\//, '');
  }
}

// Values are signed 64-bit: parse integers beyond 2^53 exactly, as bigint, where the browser
// gives a reviver the source text (every current one does); elsewhere they stay numbers.
export type Int = number | bigint;

export function parseJson<T>(text: string): T {
  return JSON.parse(text, (_key, value, context?: { source?: string }) => {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source &&
        /^-?\d+$/.test(context.source))
      return BigInt(context.source);
    return value;
  }) as T;
}

// JSON with integers written exactly: bigint and integer strings marked by `raw` go in as
// numbers without passing through a double.
export class Raw {
  constructor(readonly text: string) {}
}
export function toJson(body: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(body, (_k, v) => {
    if (typeof v === 'bigint') v = new Raw(v.toString());
    if (v instanceof Raw) {
      marks.push(v.text);
      return `\u0000raw${marks.length - 1}\u0000`;
    }
    return v;
  });
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i) => marks[Number(i)]);
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;  // default application/json for a body
  accept?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json', ...options.headers };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = options.contentType ?? 'application/json';
    body = typeof options.body === 'string' ? options.body : toJson(options.body);
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, signal: options.signal });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError({
      type: '/problems/network',
      title: 'Network error',
      status: 0,
      detail: 'the server did not answer; check that it is running and reachable',
    });
  }
  if (res.ok) return res;
  const text = await res.text();
  let problem: Problem;
  try {
    problem = JSON.parse(text) as Problem;
    if (typeof problem.type !== 'string') throw new Error();
  } catch {
    problem = { type: 'about:blank', title: res.statusText, status: res.status, detail: text };
  }
  problem.status = res.status;
  const error = new ApiError(problem);
  if (res.status === 401) signOut('The server refused the API key. Sign in again.');
  throw error;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(method, path, options);
  if (res.status === 204) return undefined as T;
  return parseJson<T>(await res.text());
}

export async function requestText(method: string, path: string, options: RequestOptions = {}): Promise<string> {
  return (await send(method, path, options)).text();
}

export const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, { signal });

export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

// The records of the APIs (docs/API.md).
export interface CountRecord {
  id: string;
  value: Int;
  description: string;
  minValue?: Int | null;
  maxValue?: Int | null;
  createdAt: string;
  updatedAt: string;
  sharded?: boolean; // a hot counter (docs/API.md, "Hot counters"): no bounds, no set
}

export interface CountPage {
  items: CountRecord[];
  nextCursor: string | null;
}

export const countsPath = '/management/api/v1/counts';

// The API's member names in a problem's detail, in the words the pages use for them.
const words: [RegExp, string][] = [
  [/\binitialValue\b/g, 'the initial value'],
  [/\bminValue\b/g, 'the minimum'],
  [/\bmaxValue\b/g, 'the maximum'],
  [/\bcountIds\b/g, 'counters'],
  [/\bcountId\b/g, 'counter'],
  [/\bchartType\b/g, 'chart type'],
  [/\blayout\.?([xywh])?\b/g, 'position and size'],
  [/\bfrom\b and \bto\b/g, 'the start and the end'],
];
export function inWords(detail: string): string {
  // widgets[0] → "widget 1": people count from one.
  let out = detail.replace(/\bwidgets\[(\d+)\]\.?/g, (_m, i) => `widget ${Number(i) + 1} `);
  for (const [re, w] of words) out = out.replace(re, w);
  return out.replace(/\s+/g, ' ').trim();
}

// A failed request as one line for a message, in the user's words where the kind is known.
export function problemText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return 'The server did not answer. Check that it is running, then try again.';
    if (e.kind === 'insufficient-data') return 'Not enough history for this period yet. Choose a longer range, or import the counter\'s history.';
    if (e.kind === 'service-unavailable') return 'A store behind the server is not answering right now; nothing was changed. Try again in a moment.';
    const detail = inWords(e.detail ?? '');
    return detail ? `${e.title}: ${detail[0].toUpperCase()}${detail.slice(1)}` : e.title;
  }
  return e instanceof Error ? e.message : String(e);
}
