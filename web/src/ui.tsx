// Small shared pieces: labelled fields with their error, messages, a modal dialog, formats.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

let nextId = 0;
export function useId(prefix: string): string {
  const ref = useRef<string>();
  if (!ref.current) ref.current = `${prefix}-${++nextId}`;
  return ref.current;
}

interface FieldProps {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  hint?: string;
  type?: string;
  inputMode?: 'numeric' | 'text';
  required?: boolean;
  readOnly?: boolean;
  multiline?: boolean;
  autoFocus?: boolean;
  placeholder?: string;
}

// A labelled input whose error is announced and tied to it (aria-invalid, aria-describedby).
export function Field(p: FieldProps) {
  const id = useId(`f-${p.name}`);
  const described = [p.hint ? `${id}-hint` : '', p.error ? `${id}-error` : ''].filter(Boolean).join(' ');
  const common = {
    id,
    name: p.name,
    value: p.value,
    required: p.required,
    readOnly: p.readOnly,
    autoFocus: p.autoFocus,
    placeholder: p.placeholder,
    'aria-invalid': p.error ? true : undefined,
    'aria-describedby': described || undefined,
    onInput: (e: Event) => p.onInput((e.currentTarget as HTMLInputElement).value),
  };
  return (
    <div class={`field${p.error ? ' invalid' : ''}`}>
      <label for={id}>{p.label}</label>
      {p.multiline ? (
        <textarea rows={2} {...common} />
      ) : (
        <input type={p.type ?? 'text'} inputMode={p.inputMode} autoComplete="off" {...common} />
      )}
      {p.hint && <small id={`${id}-hint`} class="hint">{p.hint}</small>}
      {p.error && <small id={`${id}-error`} class="error" role="alert">{p.error}</small>}
    </div>
  );
}

export function ErrorMessage({ children }: { children: ComponentChildren }) {
  return <div class="message error" role="alert">{children}</div>;
}

// A modal <dialog>: focus stays inside, Escape closes (onClose), focus returns to the opener.
export function Dialog(p: { title: string; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId('dialog-title');
  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const d = ref.current!;
    if (!d.open) d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      p.onClose();
    };
    d.addEventListener('cancel', cancel);
    return () => {
      d.removeEventListener('cancel', cancel);
      if (d.open) d.close();
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={titleId} class={p.wide ? 'wide' : ''}>
      <h2 id={titleId}>{p.title}</h2>
      {p.children}
    </dialog>
  );
}

// `compact`: the time alone when it is today.
export function formatTime(iso: string | null | undefined, compact = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (compact && d.toDateString() === new Date().toDateString()) return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return d.toLocaleString(undefined, { dateStyle: compact ? 'short' : 'medium', timeStyle: 'medium' });
}

export function formatNumber(v: number | bigint | null | undefined, digits = 2): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'bigint') return v.toLocaleString();
  if (Number.isInteger(v)) return v.toLocaleString();
  return v.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function formatPercent(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return `${v > 0 ? '+' : ''}${v.toLocaleString(undefined, { maximumFractionDigits: 1 })} %`;
}

// An integer typed by a person: "" → null, "12" → 12 (or bigint beyond 2^53), else undefined.
export function parseInteger(text: string): number | bigint | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (!/^[-+]?\d+$/.test(t)) return undefined;
  const b = BigInt(t);
  if (b > 9223372036854775807n || b < -9223372036854775808n) return undefined;
  return Number.isSafeInteger(Number(b)) ? Number(b) : b;
}
