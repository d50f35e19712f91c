// The API reference: the OpenAPI 3.1 document (docs/openapi.json, served beside this page at
// /docs/openapi.json) rendered by the console itself. Written here rather than embedding
// Swagger UI or Redoc: those bring React and a megabyte of script into a Preact app for one
// page, while this renders the project's own document (bearer scopes, problem types, the
// console's look, keyboard and screen-reader rules) in a few kilobytes. Nothing is fetched
// from anywhere but the serving service.
import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ErrorMessage } from '../ui';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- a parsed document
const methods = ['get', 'put', 'post', 'patch', 'delete'] as const;

// `code` spans and "* " bullet lines: the only markup the document's descriptions use.
// `inline`: code spans only, for a table cell or a sentence.
function Text({ text, inline: short }: { text?: string; inline?: boolean }) {
  if (!text) return null;
  const inline = (s: string) => s.split('`').map((part, i) => (i % 2 ? <code key={i}>{part}</code> : part));
  if (short) return <>{inline(text)}</>;
  const blocks = text.split('\n\n');
  return (
    <>
      {blocks.map((b, i) => {
        const lines = b.split('\n');
        if (lines.every((l) => l.startsWith('* ')))
          return <ul key={i}>{lines.map((l, j) => <li key={j}>{inline(l.slice(2))}</li>)}</ul>;
        return <p key={i}>{inline(b)}</p>;
      })}
    </>
  );
}

function refName(ref: string): string {
  return ref.split('/').pop()!;
}

function resolve(doc: Json, node: Json): Json {
  let n = node;
  for (let i = 0; n && n.$ref && i < 10; i++) {
    n = n.$ref.split('/').slice(1).reduce((o: Json, k: string) => o?.[k], doc);
  }
  return n;
}

// A one-line type: "string (date-time)", "CountRecord[]", "integer | null".
function typeOf(doc: Json, s: Json): string {
  if (!s) return 'any';
  if (s.$ref) return refName(s.$ref);
  if (s.oneOf) return s.oneOf.map((x: Json) => typeOf(doc, x)).join(' | ');
  if (s.allOf) return s.allOf.map((x: Json) => typeOf(doc, x)).join(' & ');
  const t = Array.isArray(s.type) ? s.type.join(' | ') : s.type ?? 'any';
  if (t === 'array') return `${typeOf(doc, s.items)}[]`;
  return s.format ? `${t} (${s.format})` : t;
}

function constraints(s: Json): string {
  const c: string[] = [];
  if (s.enum) c.push(`one of ${s.enum.filter((v: Json) => v !== null).join(', ')}`);
  if (s.const !== undefined) c.push(`= ${s.const}`);
  if (s.minimum !== undefined) c.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) c.push(`≤ ${s.maximum}`);
  if (s.minItems !== undefined || s.maxItems !== undefined) c.push(`${s.minItems ?? 0}–${s.maxItems ?? '∞'} items`);
  if (s.maxLength !== undefined) c.push(`at most ${s.maxLength} characters`);
  if (s.pattern) c.push(`matches ${s.pattern}`);
  if (s.default !== undefined) c.push(`default ${JSON.stringify(s.default)}`);
  return c.join('; ');
}

// A schema as nested lists of its properties, references expanded a few levels deep.
function Schema({ doc, schema, depth = 0 }: { doc: Json; schema: Json; depth?: number }) {
  const s = resolve(doc, schema);
  if (!s || depth > 4) return null;
  const item = s.type === 'array' ? resolve(doc, s.items) : null;
  const target = item?.properties ? item : s;
  const parts = target.allOf ? target.allOf.map((x: Json) => resolve(doc, x)) : [target];
  const props: [string, Json][] = parts.flatMap((p: Json) => Object.entries(p?.properties ?? {}));
  const required = new Set<string>(parts.flatMap((p: Json) => p?.required ?? []));
  if (!props.length) return null;
  return (
    <ul class="schema">
      {props.map(([name, p]) => {
        const r = resolve(doc, p);
        const c = r ? constraints(r) : '';
        return (
          <li key={name}>
            <code>{name}</code> <span class="type">{typeOf(doc, p)}</span>
            {required.has(name) ? <span class="req"> required</span> : null}
            {c && <span class="muted"> — {c}</span>}
            {r?.description && <span class="muted"> — {r.description}</span>}
            <Schema doc={doc} schema={p} depth={depth + 1} />
          </li>
        );
      })}
    </ul>
  );
}

function Content({ doc, content }: { doc: Json; content?: Json }) {
  if (!content) return null;
  return (
    <>
      {Object.entries(content).map(([type, media]: [string, Json]) => (
        <div key={type} class="media">
          <span class="muted">{type}</span>
          {media.schema && <> <span class="type">{typeOf(doc, media.schema)}</span></>}
          {media.schema && <Schema doc={doc} schema={media.schema} />}
        </div>
      ))}
    </>
  );
}

function Scopes({ security }: { security?: Json[] }) {
  if (!security || security.length === 0) return <p class="muted">No API key needed.</p>;
  const ways = security.map((req: Json) =>
    Object.entries(req).map(([scheme, scopes]: [string, Json]) =>
      scheme === 'apiKey' ? `an API key with the scope ${scopes.join(', ')}` : `a ${scheme === 'streamToken' ? 'stream token (?token=)' : scheme}`,
    ).join(' and '));
  return <p><strong>Needs</strong> {ways.join(', or ')}.</p>;
}

function Operation({ doc, path, method, op }: { doc: Json; path: string; method: string; op: Json }) {
  const params: Json[] = (op.parameters ?? []).map((p: Json) => resolve(doc, p));
  return (
    <details class="op" id={op.operationId}>
      <summary>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <code class="path">{path}</code>{' '}
        <span>{op.summary}</span>
      </summary>
      <div class="op-body">
        <Text text={op.description} />
        <Scopes security={op.security ?? doc.security} />
        {params.length > 0 && (
          <div class="table-wrap">
            <table>
              <caption>Parameters</caption>
              <thead><tr><th scope="col">name</th><th scope="col">in</th><th scope="col">type</th><th scope="col">meaning</th></tr></thead>
              <tbody>
                {params.map((p) => (
                  <tr key={`${p.in}-${p.name}`}>
                    <th scope="row"><code>{p.name}</code>{p.required && <span class="req"> required</span>}</th>
                    <td>{p.in}</td>
                    <td>{typeOf(doc, p.schema)}{(() => { const c = constraints(resolve(doc, p.schema) ?? {}); return c && <span class="muted"> — {c}</span>; })()}</td>
                    <td><Text text={p.description} inline /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {op.requestBody && (
          <section>
            <h4>Request body{op.requestBody.required ? '' : ' (optional)'}</h4>
            <Text text={op.requestBody.description} />
            <Content doc={doc} content={op.requestBody.content} />
          </section>
        )}
        <section>
          <h4>Responses</h4>
          <dl class="responses">
            {Object.entries(op.responses ?? {}).map(([status, r0]: [string, Json]) => {
              const r = resolve(doc, r0);
              const problems = Object.values(r?.content?.['application/problem+json']?.examples ?? {}) as Json[];
              return (
                <div key={status}>
                  <dt><span class={`http-status s${status[0]}`}>{status}</span></dt>
                  <dd>
                    {problems.length > 0
                      ? <span>problem: {problems.map((e, i) => <>{i > 0 && ', '}<code>{e.value.type}</code></>)}</span>
                      : <><Text text={r?.description} /><Content doc={doc} content={r?.content} /></>}
                  </dd>
                </div>
              );
            })}
          </dl>
        </section>
      </div>
    </details>
  );
}

function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return <section class="docs-section"><h2>{title}</h2>{children}</section>;
}

export default function Docs() {
  const [doc, setDoc] = useState<Json | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    fetch('/docs/openapi.json')
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`the server answered ${r.status}`))))
      .then(setDoc, (e) => setError(String(e.message ?? e)));
  }, []);
  const byTag = useMemo(() => {
    const groups = new Map<string, { path: string; method: string; op: Json }[]>();
    if (!doc) return groups;
    for (const t of doc.tags ?? []) groups.set(t.name, []);
    const f = filter.trim().toLowerCase();
    for (const [path, item] of Object.entries(doc.paths ?? {}) as [string, Json][])
      for (const method of methods) {
        const op = item[method];
        if (!op) continue;
        if (f && !`${method} ${path} ${op.summary ?? ''}`.toLowerCase().includes(f)) continue;
        const tag = op.tags?.[0] ?? 'Other';
        if (!groups.has(tag)) groups.set(tag, []);
        groups.get(tag)!.push({ path, method, op });
      }
    return groups;
  }, [doc, filter]);
  if (error) return <ErrorMessage>The API document could not be loaded: {error}</ErrorMessage>;
  if (!doc) return <div class="skeleton page" aria-busy="true" aria-label="Loading" />;
  const problems = Object.values(doc.components?.responses ?? {}).flatMap((r: Json) =>
    Object.values(r.content?.['application/problem+json']?.examples ?? {}) as Json[]);
  const tags = new Map<string, string>((doc.tags ?? []).map((t: Json) => [t.name, t.description]));
  const shown = [...byTag.values()].reduce((n, ops) => n + ops.length, 0);
  return (
    <div class="docs">
      <div class="page-head">
        <h1>{doc.info.title} <span class="muted">{doc.info.version}</span></h1>
        <a href="/docs/openapi.json" download="openapi.json">Download openapi.json</a>
      </div>
      <Text text={doc.info.description} />
      <Section title="Authentication">
        <dl class="schemes">
          {Object.entries(doc.components?.securitySchemes ?? {}).map(([name, s]: [string, Json]) => (
            <div key={name}><dt><code>{name}</code></dt><dd><Text text={s.description} inline /></dd></div>
          ))}
        </dl>
      </Section>
      <div class="toolbar">
        <div class="field inline">
          <label for="docs-filter">Filter operations</label>
          <input id="docs-filter" type="search" placeholder="path, method or words" value={filter}
            onInput={(e) => setFilter((e.currentTarget as HTMLInputElement).value)} />
        </div>
        <p class="status" role="status">{shown} {shown === 1 ? 'operation' : 'operations'}</p>
      </div>
      {[...byTag.entries()].filter(([, ops]) => ops.length > 0).map(([tag, ops]) => (
        <Section key={tag} title={tag}>
          <Text text={tags.get(tag)} />
          {ops.map(({ path, method, op }) => <Operation key={`${method} ${path}`} doc={doc} path={path} method={method} op={op} />)}
        </Section>
      ))}
      <Section title="Problem types">
        <div class="table-wrap">
          <table class="problems">
            <caption>Every error is application/problem+json (RFC 9457) with one of these types</caption>
            <thead><tr><th scope="col">status</th><th scope="col">type</th><th scope="col">when</th></tr></thead>
            <tbody>
              {problems.sort((a, b) => a.value.status - b.value.status).map((e) => (
                <tr key={e.value.type}><td class="num">{e.value.status}</td><th scope="row"><code>{e.value.type}</code></th><td><Text text={e.summary} inline /></td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </Section>
    </div>
  );
}
