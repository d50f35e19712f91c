// Browser-test harness: a standalone `count-system up` on a free 127.0.0.1 port with a
// temporary data directory, Debian's Chromium driven by playwright-core (headless), the API
// for arranging data, and screenshots kept under web/test-artifacts/<run>/ (gitignored).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../../..');

export const artifacts = process.env.BROWSER_ARTIFACTS ??
  join(repo, 'web/test-artifacts', new Date().toISOString().replace(/[:.]/g, '-'));
mkdirSync(artifacts, { recursive: true });

// Starts count-system; resolves once it printed its URL (it binds port 0: no race for a port).
export async function startSystem() {
  const bin = process.env.COUNT_SYSTEM_BIN ?? join(repo, 'build/release/count-system/count-system');
  if (!existsSync(bin)) throw new Error(`no ${bin}: build it first (scripts/build.sh release --target count-system)`);
  const data = mkdtempSync(join(tmpdir(), 'count-web-'));
  const key = 'cms_test_' + randomBytes(12).toString('hex');
  const child = spawn(bin, ['up', '--port', '0', '--data', data], {
    env: { ...process.env, COUNT_ADMIN_KEY: key, HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Should this test process die without its after() hooks, the server goes with it.
  process.once('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  });
  let err = '';
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error('count-system did not start in 15 s:\n' + err)), 15_000);
    child.stderr.on('data', (d) => {
      err += d;
      const m = /count-system is up: (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) { clearTimeout(timer); res(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); rej(new Error(`count-system exited ${code}:\n${err}`)); });
  });
  return {
    url, key, data,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');  // by PID: the child we started
        await exited;
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export function apiClient(url, key) {
  return async function api(method, path, body, contentType = 'application/json') {
    const res = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${key}`, ...(body !== undefined ? { 'Content-Type': contentType } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    // The machine's network is closed: no background connections, no component updates.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// A page signed in with `key` on `path` (e.g. "/management/").
export async function openSignedIn(browser, url, key, path, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  watch(page);
  await page.goto(url + path);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('main#main h1').first().waitFor();
  return page;
}

// Errors inside pages (uncaught exceptions, Content-Security-Policy violations), for the
// test run to assert there were none.
export const pageErrors = [];
export function watch(page) {
  page.on('pageerror', (e) => pageErrors.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) pageErrors.push(`${page.url()}: ${m.text()}`);
  });
}

let shots = 0;
export async function shot(page, name) {
  const file = join(artifacts, `${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// The screenshots docs/CONSOLE.md shows: taken by the tests at 1400×900 and kept with the
// run's artifacts; with CONSOLE_DOC_SHOTS=1 they also replace docs/console/<name>.png
// (then compressed with pngquant, as docs/CONSOLE.md says), so a normal run never
// changes the repository.
export async function docShot(page, name, { fullPage = false } = {}) {
  const file = await shot(page, `doc-${name}`);
  if (process.env.CONSOLE_DOC_SHOTS === '1') {
    mkdirSync(join(repo, 'docs/console'), { recursive: true });
    await page.screenshot({ path: join(repo, 'docs/console', `${name}.png`), fullPage });
  }
  return file;
}
