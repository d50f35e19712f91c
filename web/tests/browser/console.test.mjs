// The console end to end in headless Chromium against standalone count-system: one server
// and one browser for the run, a fresh browser context per test.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { apiClient, artifacts, docShot, launchBrowser, openSignedIn, pageErrors, shot, startSystem, watch } from './harness.mjs';

let system, browser, api;

before(async () => {
  system = await startSystem();
  api = apiClient(system.url, system.key);
  browser = await launchBrowser();
  console.log(`# standalone ${system.url}; screenshots in ${artifacts}`);
});

after(async () => {
  await browser?.close();
  await system?.stop();
  console.log(`# screenshots kept in ${artifacts}`);
  assert.deepEqual(pageErrors, [], 'errors inside the pages');
});

// Waits until the element's text matches.
async function textMatches(locator, pattern, timeout = 5000) {
  await locator.first().waitFor({ timeout });
  const deadline = Date.now() + timeout;
  for (;;) {
    const t = await locator.first().innerText();
    if (pattern.test(t)) return t;
    if (Date.now() > deadline) assert.fail(`text ${JSON.stringify(t)} does not match ${pattern}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The error text tied to a labelled field through aria-describedby.
async function fieldError(scope, label) {
  const input = scope.getByLabel(label, { exact: true });
  await scope.page().waitForFunction((el) => el.getAttribute('aria-invalid') === 'true', await input.elementHandle());
  const ids = (await input.getAttribute('aria-describedby')).split(' ');
  return scope.page().locator(`[id="${ids[ids.length - 1]}"]`).innerText();
}

// The layout gridstack shows, per widget id.
const shownLayout = (page) => page.evaluate(() => Object.fromEntries(
  [...document.querySelectorAll('.grid-stack-item')].map((el) => {
    const n = el.gridstackNode;
    return [String(n.id), { x: n.x, y: n.y, w: n.w, h: n.h }];
  })));

async function addWidget(page, { title, type, counters = [], chartType, x, y, w, h }) {
  await page.getByRole('button', { name: 'Add widget' }).click();
  const dialog = page.getByRole('dialog', { name: 'Add widget' });
  await dialog.getByLabel('Title', { exact: true }).fill(title);
  if (type) await dialog.getByLabel('Type', { exact: true }).selectOption(type);
  for (const c of counters) {
    await dialog.getByLabel('Find counters by id prefix').fill(c);
    await dialog.getByRole('checkbox', { name: c, exact: true }).check();
  }
  if (chartType) await dialog.getByLabel('Chart type').selectOption(chartType);
  const set = { Column: x, Row: y, Width: w, Height: h };
  for (const [label, v] of Object.entries(set)) if (v !== undefined) await dialog.getByLabel(label, { exact: true }).fill(String(v));
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await dialog.waitFor({ state: 'detached' });
}

describe('login (any page)', () => {
  test('a wrong key is refused; the right one opens the page; a 401 later returns to login', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    watch(page);
    await page.goto(system.url + '/management');  // redirects to /management/
    assert.match(page.url(), /\/management\/$/);
    await page.getByLabel('API key').fill('not-a-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await textMatches(page.getByRole('alert'), /not valid/);
    await shot(page, 'login-refused');
    await page.getByLabel('API key').fill(system.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Counters' }).waitFor();
    await page.getByText('No counters yet.').waitFor();
    // The key stays with the tab across pages; with no counters the dashboards suggest some.
    await page.getByRole('link', { name: 'Dashboards' }).click();
    await textMatches(page.locator('.empty').first(), /No counters yet.*Counters/s);
    await shot(page, 'dashboard-no-counters');
    await page.getByRole('link', { name: 'Counters' }).first().click();
    await page.getByRole('heading', { name: 'Counters' }).waitFor();
    await page.getByText('No counters yet.').waitFor();  // the page's own list call answered
    // The key is revoked behind the page's back: the next call's 401 returns to the login.
    await page.evaluate(() => sessionStorage.setItem('count.apiKey', 'revoked'));
    await page.getByLabel('Search by id prefix').fill('x');
    await textMatches(page.getByRole('status'), /refused the API key/);
    await page.getByLabel('API key').waitFor();
    await shot(page, 'login-after-401');
    await context.close();
  });
});

describe('API reference (/docs)', () => {
  test('renders the OpenAPI document without a key: every operation, scopes, parameters, problem types', async () => {
    const doc = JSON.parse(await readFile(new URL('../../../docs/openapi.json', import.meta.url), 'utf8'));
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      ['get', 'put', 'post', 'patch', 'delete'].filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] })));
    const problems = Object.values(doc.components.responses)
      .flatMap((r) => Object.values(r.content['application/problem+json'].examples));
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    watch(page);
    await page.goto(system.url + '/docs');  // redirects to /docs/; no sign-in asked
    assert.match(page.url(), /\/docs\/$/);
    await page.getByRole('heading', { name: doc.info.title }).waitFor();
    assert.equal(await page.getByLabel('API key').count(), 0);
    // Every operation of the document is listed, once, grouped under its tag.
    await textMatches(page.getByRole('status'), new RegExp(`^${operations.length} operations$`));
    assert.equal(await page.locator('details.op').count(), operations.length);
    for (const tag of doc.tags) await page.getByRole('heading', { name: tag.name, exact: true }).waitFor();
    await docShot(page, 'docs');
    // The filter narrows the list.
    await page.getByLabel('Filter operations').fill('increment');
    await textMatches(page.getByRole('status'), /^1 operation$/);
    // Opened from the keyboard: scope, parameters, body and the problems each status can carry.
    const op = page.locator('details.op').first();
    await op.locator('summary').focus();
    await page.keyboard.press('Enter');
    assert.equal(await op.getAttribute('open'), '');
    const text = await op.innerText();
    assert.match(text, /POST\s+\/api\/v1\/counts\/\{id\}\/increment/);
    assert.match(text, /an API key with the scope count:write/);
    assert.match(text, /Idempotency-Key/);
    assert.match(text, /amount\s+integer \(int64\)/);
    assert.match(text, /422\s+problem: .*\/problems\/overflow/);
    assert.match(text, /401\s+problem: \/problems\/unauthorized/);
    await shot(page, 'docs-operation');
    // The problem table: every type with its status, as the document (and the server's table) has them.
    const rows = await page.locator('table.problems tbody tr').allInnerTexts();
    assert.equal(rows.length, problems.length);
    for (const p of problems)
      assert.ok(rows.some((r) => r.startsWith(`${p.value.status}\t${p.value.type}`)), `${p.value.status} ${p.value.type}`);
    // A public operation says so.
    await page.getByLabel('Filter operations').fill('get /health/live');
    await page.locator('details.op summary').first().click();
    await textMatches(page.locator('details.op').first(), /No API key needed/);
    await context.close();
  });
});

describe('UC-003 management', () => {
  test('create → duplicate at the id field → edit → delete with confirmation', async () => {
    const page = await openSignedIn(browser, system.url, system.key, '/management/');
    await page.getByRole('button', { name: 'New counter' }).click();
    let dialog = page.getByRole('dialog', { name: 'New counter' });
    await dialog.getByLabel('Id', { exact: true }).fill('web.visits');
    await dialog.getByLabel('Description', { exact: true }).fill('visits of the web shop');
    await dialog.getByLabel('Initial value', { exact: true }).fill('42');
    await shot(page, 'management-create-form');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await textMatches(page.getByRole('status'), /web\.visits created/);
    const row = page.locator('tr[data-id="web.visits"]');
    await textMatches(row, /42/);
    assert.match(await row.innerText(), /visits of the web shop/);
    const stored = await api('GET', '/management/api/v1/counts/web.visits');
    assert.equal(stored.value, 42);

    // The same id again: 409, shown at the id field.
    await page.getByRole('button', { name: 'New counter' }).click();
    dialog = page.getByRole('dialog', { name: 'New counter' });
    await dialog.getByLabel('Id', { exact: true }).fill('web.visits');
    await dialog.getByRole('button', { name: 'Create' }).click();
    assert.match(await fieldError(dialog, 'Id'), /already exists/);
    // A 422 of the server lands at its field: an initial value outside the bounds.
    await dialog.getByLabel('Id', { exact: true }).fill('web.bounded');
    await dialog.getByLabel('Initial value', { exact: true }).fill('500');
    await dialog.getByLabel('Maximum', { exact: true }).fill('100');
    await dialog.getByRole('button', { name: 'Create' }).click();
    assert.match(await fieldError(dialog, 'Initial value'), /^The initial value must lie .*the minimum.*the maximum/);
    await shot(page, 'management-field-errors');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });

    // Edit.
    await page.getByRole('button', { name: 'Edit web.visits' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit web.visits' });
    await dialog.getByLabel('Description', { exact: true }).fill('visits, edited');
    await dialog.getByLabel('Maximum', { exact: true }).fill('1000');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await textMatches(page.getByRole('status'), /web\.visits saved/);
    await textMatches(row, /visits, edited/);
    assert.equal((await api('GET', '/management/api/v1/counts/web.visits')).maxValue, 1000);
    await shot(page, 'management-edited');

    // Delete: cancel first changes nothing, then confirm.
    await page.getByRole('button', { name: 'Delete web.visits' }).click();
    dialog = page.getByRole('dialog', { name: 'Delete web.visits?' });
    await shot(page, 'management-delete-confirm');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api('GET', '/management/api/v1/counts/web.visits')).id, 'web.visits');
    await page.getByRole('button', { name: 'Delete web.visits' }).click();
    await page.getByRole('dialog', { name: 'Delete web.visits?' }).getByRole('button', { name: 'Delete' }).click();
    await textMatches(page.getByRole('status'), /web\.visits deleted/);
    await row.waitFor({ state: 'detached' });
    await assert.rejects(api('GET', '/management/api/v1/counts/web.visits'), /404/);
    await page.context().close();
  });

  // The table's rows come to `n` (within 5 s) and stay there for a moment: a count taken at
  // once can see a render in between (it saw 6 rows on page 2 once).
  async function rowsSettleAt(page, n) {
    await page.waitForFunction((want) => document.querySelectorAll('tbody tr').length === want, n, { timeout: 5000 });
    await page.waitForTimeout(200);
    assert.equal(await page.locator('tbody tr').count(), n);
  }

  test('search by prefix and cursor paging', async () => {
    for (let i = 0; i < 25; i++) await api('POST', '/management/api/v1/counts', { id: `page.p${String(i).padStart(2, '0')}` });
    await api('POST', '/management/api/v1/counts', { id: 'other.one' });
    const page = await openSignedIn(browser, system.url, system.key, '/management/');
    await page.getByLabel('Search by id prefix').fill('page.');
    await page.locator('tr[data-id="other.one"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-id="page.p00"]').waitFor();
    await rowsSettleAt(page, 20);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('tr[data-id="page.p24"]').waitFor();
    await rowsSettleAt(page, 5);
    assert.equal(await page.getByRole('button', { name: 'Next' }).isDisabled(), true);
    await shot(page, 'management-page-2');
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.locator('tr[data-id="page.p00"]').waitFor();
    await page.context().close();
  });

  test('keyboard only, on a narrow screen', async () => {
    const page = await openSignedIn(browser, system.url, system.key, '/management/', { width: 390, height: 844 });
    await page.getByRole('button', { name: 'New counter' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'id');
    await page.keyboard.type('kb.made');  // the id field has the focus
    await page.keyboard.press('Tab');
    await page.keyboard.type('typed without a mouse');
    await page.keyboard.press('Enter');  // in a textarea: a newline; submit with the button
    await page.getByRole('dialog').getByRole('button', { name: 'Create' }).focus();
    await page.keyboard.press('Enter');
    await textMatches(page.getByRole('status'), /kb\.made created/);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page scrolls sideways: ${width}px`);
    await shot(page, 'management-narrow');
    await page.context().close();
  });
});

describe('UC-004 analysis', () => {
  const hour = 3600e3;
  let start;

  before(async () => {
    // Creating a counter records its value now: with these initial values the creation point
    // continues the imported lines exactly (orders rise by 10 an hour, returns stay at 5).
    const created = await api('POST', '/management/api/v1/counts', { id: 'shop.orders', initialValue: 580 });
    await api('POST', '/management/api/v1/counts', { id: 'shop.returns', initialValue: 5 });
    await api('POST', '/management/api/v1/counts', { id: 'shop.empty' });
    start = Math.floor(Date.parse(created.createdAt) / hour) * hour - 48 * hour;
    const points = [];
    for (let h = 0; h < 48; h++) {
      const timestamp = new Date(start + h * hour).toISOString();
      points.push({ countId: 'shop.orders', timestamp, value: 100 + 10 * h });
      points.push({ countId: 'shop.returns', timestamp, value: 5 });
    }
    const r = await api('POST', '/analysis/api/v1/history:import', { points });
    assert.equal(r.imported, 96);
  });

  async function choose(page, ids) {
    for (const id of ids) {
      await page.getByLabel('Find counters by id prefix').fill(id);
      await page.getByRole('checkbox', { name: id, exact: true }).check();
    }
  }

  test('trend of imported history: chart, table and summary; CSV export', async () => {
    // From the counter list to its analysis (the key stays with the tab).
    const page = await openSignedIn(browser, system.url, system.key, '/management/');
    await page.getByLabel('Search by id prefix').fill('shop.orders');
    await page.getByRole('link', { name: 'Analyse shop.orders' }).click();
    await page.getByRole('heading', { name: 'Analysis' }).waitFor();
    await page.getByRole('button', { name: 'Remove shop.orders' }).waitFor();  // chosen already
    await page.getByLabel('Range').selectOption('7d');
    await page.getByLabel('Unit').selectOption('hour');
    await page.getByRole('radio', { name: 'Trend' }).check();
    await page.getByRole('button', { name: 'Analyse' }).click();
    const table = page.getByRole('table', { name: 'Trend per counter' });
    await textMatches(table, /increasing/);
    const cells = await table.locator('tbody tr').first().locator('td').allInnerTexts();
    assert.deepEqual(cells.slice(0, 4).map((c) => c.replace(/[^\d.-]/g, '')), ['100', '580', '340', '480']);
    assert.equal(cells[6], '49');  // 48 imported hours and the current one
    await page.locator('.chart canvas').first().waitFor();
    await textMatches(page.locator('.summary'), /shop\.orders is increasing/);
    await shot(page, 'analysis-trend-chart');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split('\n');
    assert.equal(lines[0], 'countId,t,last,sum,min,max');
    assert.equal(lines.length, 50);
    await page.context().close();
  });

  test('comparison and prediction', async () => {
    const page = await openSignedIn(browser, system.url, system.key, '/analysis/');
    await choose(page, ['shop.orders', 'shop.returns']);
    await page.getByLabel('Range').selectOption('7d');
    await page.getByRole('radio', { name: 'Comparison' }).check();
    await page.getByRole('button', { name: 'Analyse' }).click();
    const table = page.getByRole('table', { name: 'Comparison' });
    await textMatches(table, /shop\.returns/);
    assert.match(await page.locator('.summary').innerText(), /Highest\s*580/);
    await shot(page, 'analysis-comparison');

    await page.getByRole('radio', { name: 'Prediction' }).check();
    await page.getByLabel('Predict buckets ahead').fill('5');
    await page.getByRole('button', { name: 'Analyse' }).click();
    const predicted = page.getByRole('table', { name: 'Predicted values' });
    await textMatches(predicted, /590/);  // the next hour of a perfect line
    assert.equal(await predicted.locator('tbody tr').count(), 10);
    await textMatches(page.locator('.summary'), /240 per day/);
    await shot(page, 'analysis-prediction');
    await page.context().close();
  });

  test('invalid period and insufficient data are explained', async () => {
    const page = await openSignedIn(browser, system.url, system.key, '/analysis/');
    await choose(page, ['shop.empty']);
    await page.getByLabel('Range').selectOption('custom');
    await page.getByLabel('From (local time)').fill('2026-01-10T00:00');
    await page.getByLabel('To (local time)').fill('2026-01-01T00:00');
    await page.getByRole('button', { name: 'Analyse' }).click();
    await textMatches(page.locator('#period-error'), /start of the period must be before its end/);
    // A year and more of minutes: the server's invalid-period.
    await page.getByLabel('From (local time)').fill('2024-01-01T00:00');
    await page.getByLabel('To (local time)').fill('2026-01-01T00:00');
    await page.getByLabel('Unit').selectOption('minute');
    await page.getByRole('button', { name: 'Analyse' }).click();
    await textMatches(page.locator('#period-error'), /cannot be analysed.*366 days of minutes/s);
    await shot(page, 'analysis-invalid-period');
    await page.getByLabel('Range').selectOption('24h');
    await page.getByRole('button', { name: 'Analyse' }).click();
    await textMatches(page.getByRole('alert'), /Not enough history.*shop\.empty/s);
    await shot(page, 'analysis-insufficient-data');
    await page.context().close();
  });
});

describe('UC-005 dashboards', () => {
  let available = true;
  before(async () => {
    const res = await fetch(system.url + '/dashboard/api/v1/dashboards', { headers: { Authorization: `Bearer ${system.key}` } });
    available = res.ok;
    for (const id of ['dash.orders', 'dash.visits']) await api('POST', '/management/api/v1/counts', { id, initialValue: 10 });
  });

  test('built in edit mode, saved, reloaded with the same layout; live within 1 s of an increment', async (t) => {
    if (!available) return t.skip('the dashboard API is not in this build');
    const page = await openSignedIn(browser, system.url, system.key, '/dashboard/');
    await page.getByText('No dashboards yet.').waitFor();
    await shot(page, 'dashboard-empty');
    await page.getByRole('button', { name: 'Create a dashboard' }).click();
    await page.getByRole('dialog', { name: 'New dashboard' }).getByLabel('Name', { exact: true }).fill('Operations');
    await page.getByRole('dialog', { name: 'New dashboard' }).getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Operations' }).waitFor();
    await page.getByRole('button', { name: 'Add a widget' }).click();
    const opened = page.getByRole('dialog', { name: 'Add widget' });  // the options opened at once
    await opened.getByRole('button', { name: 'Cancel' }).click();
    await opened.waitFor({ state: 'detached' });
    await addWidget(page, { title: 'Orders', counters: ['dash.orders'], x: 0, y: 0, w: 3, h: 2 });
    await addWidget(page, { title: 'Visits over time', type: 'chart', counters: ['dash.visits'], chartType: 'line', x: 3, y: 0, w: 6, h: 3 });
    await addWidget(page, { title: 'System', type: 'stat', x: 9, y: 0, w: 3, h: 2 });
    await addWidget(page, { title: 'Short-lived', counters: ['dash.visits'] });
    await page.getByRole('button', { name: 'Remove Short-lived' }).click();
    await page.locator('.grid-stack-item:has(h3:text-is("Short-lived"))').waitFor({ state: 'detached' });
    // Drag "Orders" by its title bar onto the chart's place; resize "System" from its bottom edge.
    const initial = await shownLayout(page);
    const head = page.locator('.grid-stack-item:has(h3:text-is("Orders")) .widget-head h3');
    const hb = await head.boundingBox();
    const column = (await page.locator('.grid-stack').boundingBox()).width / 12;
    await page.mouse.move(hb.x + 10, hb.y + 5);
    await page.mouse.down();
    await page.mouse.move(hb.x + 10 + 4 * column, hb.y + 15, { steps: 12 });
    await page.mouse.up();
    const handle = page.locator('.grid-stack-item:has(h3:text-is("System")) .ui-resizable-s');
    const rb = await handle.boundingBox();
    await page.mouse.move(rb.x + rb.width / 2, rb.y + rb.height / 2);
    await page.mouse.down();
    await page.mouse.move(rb.x + 5, rb.y + 190, { steps: 12 });
    await page.mouse.up();
    const before = await shownLayout(page);
    assert.notDeepEqual([before.w1, before.w2], [initial.w1, initial.w2], 'the drag moved the widgets');
    assert.ok(before.w3.h > 2, `the resize made the widget taller: ${JSON.stringify(before.w3)}`);
    await shot(page, 'dashboard-edit-mode');
    // The options show where the dragged widget is now.
    await page.getByRole('button', { name: 'Options of Orders' }).click();
    const options = page.getByRole('dialog', { name: 'Options of Orders' });
    assert.equal(await options.getByLabel('Column', { exact: true }).inputValue(), String(before.w1.x));
    assert.equal(await options.getByLabel('Row', { exact: true }).inputValue(), String(before.w1.y));
    await options.getByRole('button', { name: 'Cancel' }).click();
    await options.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Save layout' }).click();
    await page.getByRole('button', { name: 'Edit dashboard' }).waitFor();

    const stored = await api('GET', '/dashboard/api/v1/dashboards/operations');
    assert.deepEqual(Object.fromEntries(stored.widgets.map((w) => [w.id, w.layout])), before);
    await page.reload();
    await page.locator('body[data-dashboard-ready="true"]').waitFor();
    assert.deepEqual(await shownLayout(page), before, 'the reloaded layout is the saved one');
    assert.equal(await page.locator('.widget h3').allInnerTexts().then((t) => t.sort().join('|')), 'Orders|System|Visits over time');

    // Live: the stream is open, an increment through the API shows within 1 s.
    await page.locator('.live-state[data-state="live"]').waitFor({ timeout: 5000 });
    const value = page.locator('[data-count-id="dash.orders"] .value');
    await textMatches(value, /^10$/);
    const t0 = Date.now();
    await api('POST', '/api/v1/counts/dash.orders/increment', { amount: 5 });
    await textMatches(value, /^15$/, 1000);
    const ms = Date.now() - t0;
    console.log(`# live update: increment → shown on the dashboard in ${ms} ms (SSE)`);
    assert.ok(ms <= 1000);
    await shot(page, 'dashboard-live');
    assert.match(await page.locator('.summary-bar').innerText(), /\d/);
    await page.context().close();
  });

  test('without the stream it polls, and says so', async (t) => {
    if (!available) return t.skip('the dashboard API is not in this build');
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((k) => sessionStorage.setItem('count.apiKey', k), system.key);
    await context.route('**/dashboard/events?**', (route) => route.abort());
    const page = await context.newPage();
    watch(page);
    await page.goto(system.url + '/dashboard/?id=operations');
    await page.locator('body[data-dashboard-ready="true"]').waitFor();
    await page.locator('.live-state[data-state="polling"], .live-state[data-state="reconnecting"]').waitFor({ timeout: 10_000 });
    const value = page.locator('[data-count-id="dash.orders"] .value');
    const now = Number((await value.innerText()).replace(/\D/g, ''));
    await api('POST', '/api/v1/counts/dash.orders/increment', { amount: 1 });
    await textMatches(value, new RegExp(`^${now + 1}$`), 5000);
    await shot(page, 'dashboard-polling');
    await context.close();
  });

  test('twenty widgets are interactive in under a second (benchmark)', async (t) => {
    if (!available) return t.skip('the dashboard API is not in this build');
    const ids = [];
    for (let i = 0; i < 16; i++) {
      ids.push(`bench.c${i}`);
      await api('POST', '/management/api/v1/counts', { id: `bench.c${i}`, initialValue: i });
    }
    const widgets = [];
    for (let i = 0; i < 20; i++) {
      const type = i < 14 ? 'count' : i < 17 ? 'chart' : i < 19 ? 'stat' : 'analysis';
      widgets.push({
        id: `b${i}`, type, title: `Widget ${i}`, countIds: type === 'stat' && i === 18 ? [] : [ids[i % 16], ...(type === 'count' ? [] : [ids[(i + 1) % 16]])],
        chartType: '', period: type === 'count' ? '' : '24h', unit: '',
        layout: { x: (i % 4) * 3, y: Math.floor(i / 4) * 2, w: 3, h: 2 },
      });
    }
    await api('POST', '/dashboard/api/v1/dashboards', { id: 'twenty', name: 'Twenty widgets', widgets });
    const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
    await context.addInitScript((k) => sessionStorage.setItem('count.apiKey', k), system.key);
    const page = await context.newPage();
    watch(page);
    const measure = async () => {
      const t0 = Date.now();
      await page.goto(system.url + '/dashboard/?id=twenty');
      await page.locator('body[data-dashboard-ready="true"]').waitFor();
      const wall = Date.now() - t0;
      const mark = await page.evaluate(() => performance.getEntriesByName('dashboard-interactive')[0].startTime);
      // Where the time went (a profile of the load): when each step had its answer.
      const steps = await page.evaluate(() => {
        const end = (re) => Math.round(performance.getEntriesByType('resource').find((e) => re.test(e.name))?.responseEnd ?? -1);
        const nav = performance.getEntriesByType('navigation')[0];
        return { html: Math.round(nav.responseEnd), app: end(/assets\/index-.*\.js$/), page: end(/assets\/dashboard-.*\.js$/),
          list: end(/dashboard\/api\/v1\/dashboards$/), values: end(/\/api\/v1\/counts\?ids=/) };
      });
      assert.equal(await page.locator('.grid-stack-item').count(), 20);
      return { wall, mark: Math.round(mark), steps };
    };
    const cold = await measure();
    const warm = [];
    for (let i = 0; i < 5; i++) warm.push((await measure()).mark);
    warm.sort((a, b) => a - b);
    console.log(`# benchmark: dashboard of 20 widgets interactive (navigation start → grid built, values shown): ` +
      `first load ${cold.mark} ms (wall ${cold.wall} ms), reloads median ${warm[2]} ms (min ${warm[0]}, max ${warm[4]}); target < 1000 ms`);
    const st = cold.steps;
    console.log(`# benchmark: first load, answered at (ms after navigation start): html ${st.html}, app script ${st.app}, ` +
      `dashboard page script ${st.page}, dashboard list ${st.list}, first values ${st.values}; interactive ${cold.mark}`);
    await shot(page, 'dashboard-20-widgets');
    assert.ok(warm[2] < 3000, 'NFR-004: a dashboard loads in under 3 s');
    await context.close();
  });

  test('narrow screen, keyboard', async (t) => {
    if (!available) return t.skip('the dashboard API is not in this build');
    const page = await openSignedIn(browser, system.url, system.key, '/dashboard/?id=operations', { width: 390, height: 844 });
    await page.locator('body[data-dashboard-ready="true"]').waitFor();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page scrolls sideways: ${width}px`);
    // Edit mode by keyboard: the options dialog of a widget changes its title.
    await page.getByRole('button', { name: 'Edit dashboard' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Options of Orders' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'title');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Orders today');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Orders today' }).waitFor();
    await shot(page, 'dashboard-narrow-edit');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('heading', { name: 'Orders', exact: true }).waitFor();
    await page.context().close();
  });
});

// Issue 14: dashboards that read well and lose no work.
describe('dashboards: layout, charts, no lost work', () => {
  const wide = { width: 1400, height: 900 };
  const long = 'checkout.payments.completed.successfully.in-the-eu-west-region';
  const day = 86400e3;

  before(async () => {
    const values = { 'g.orders': 4000, 'g.returns': 2000, 'g.visits': 1000, [long]: 777 };
    for (const [id, initialValue] of Object.entries(values)) await api('POST', '/management/api/v1/counts', { id, initialValue });
    // 60 days of daily history for orders and returns, rising towards today's values.
    const points = [];
    const today = Math.floor(Date.now() / day) * day;
    for (let d = 60; d >= 1; d--) {
      const timestamp = new Date(today - d * day).toISOString();
      points.push({ countId: 'g.orders', timestamp, value: 4000 - 20 * d });
      points.push({ countId: 'g.returns', timestamp, value: 2000 - 10 * d + (d % 3) * 15 });
    }
    assert.equal((await api('POST', '/analysis/api/v1/history:import', { points })).imported, 120);
  });

  // A dashboard stored through the API with these widgets (id, type, title, counters, chartType, period, layout).
  async function stored(id, name, widgets) {
    await api('POST', '/dashboard/api/v1/dashboards', {
      id, name, widgets: widgets.map(([wid, type, title, countIds, chartType, period, [x, y, w, h]]) =>
        ({ id: wid, type, title, countIds, chartType, period, unit: '', layout: { x, y, w, h } })),
    });
  }

  async function openDashboard(id, viewport = wide) {
    const page = await openSignedIn(browser, system.url, system.key, `/dashboard/?id=${id}`, viewport);
    await page.locator('body[data-dashboard-ready="true"]').waitFor();
    return page;
  }

  const charts = [
    ['c1', 'chart', 'Orders and returns', ['g.orders', 'g.returns'], 'line', '7d', [0, 0, 6, 4]],
    ['c2', 'analysis', 'Comparison', ['g.orders', 'g.returns', 'g.visits'], 'comparison', '30d', [6, 0, 6, 4]],
    ['c3', 'analysis', 'Forecast', ['g.orders'], 'prediction', '90d', [0, 4, 6, 4]],
    ['c4', 'analysis', 'Trend', ['g.orders', 'g.returns'], 'trend', '90d', [6, 4, 6, 4]],
    ['c5', 'chart', 'Now', ['g.orders', 'g.returns', long], 'bar', '24h', [0, 8, 4, 3]],
    ['c6', 'chart', 'Visits', ['g.visits'], 'area', '30d', [4, 8, 8, 3]],
  ];

  // Per chart widget: its canvas's share of the widget's body (the panel below its title).
  const fills = (page) => page.evaluate(() => [...document.querySelectorAll('.grid-stack-item')].map((item) => {
    const body = item.querySelector('.widget-body').getBoundingClientRect();
    const c = item.querySelector('.chart canvas')?.getBoundingClientRect();
    return { id: item.gridstackNode.id, share: c ? (c.width * c.height) / (body.width * body.height) : 0,
      width: Math.round(c?.width ?? 0), height: Math.round(c?.height ?? 0) };
  }));

  // Waits (a resize reaches the panels and then the charts over the next frames) until
  // `changed` holds and two samples 100 ms apart agree with every chart filling 80 % to all
  // of its panel (more than all: the panel shrank, the chart has not followed yet).
  // At the deadline it returns what it measured, for the caller's assertions to fail on.
  async function settledFills(page, changed = () => true) {
    const deadline = Date.now() + 5000;
    let last = '';
    for (;;) {
      const f = await fills(page);
      const now = JSON.stringify(f);
      if ((changed(f) && now === last && f.every((x) => x.share >= 0.8 && x.share <= 1)) || Date.now() > deadline) return f;
      last = now;
      await page.waitForTimeout(100);
    }
  }

  // The bars a canvas shows: per run of bar-coloured columns, its height in device pixels
  // (from the lowest to the highest bar pixel) and its bottom. Read from the pixels drawn.
  const barHeights = (chart) => chart.evaluate((el) => {
    const canvas = el.querySelector('canvas');
    const { width, height } = canvas;
    const px = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    const isBar = (x, y) => {
      const i = (y * width + x) * 4;
      return px[i + 2] > 200 && px[i] < 110 && px[i + 1] > 80 && px[i + 1] < 150;  // the palette's blue
    };
    const columns = [];
    for (let x = 0; x < width; x++) {
      let top = -1, bottom = -1;
      for (let y = 0; y < height; y++) if (isBar(x, y)) { if (top < 0) top = y; bottom = y; }
      columns.push(top < 0 ? null : { top, bottom });
    }
    const bars = [];
    for (let x = 0; x < width; x++) {
      if (!columns[x]) continue;
      const start = x;
      while (x < width && columns[x]) x++;
      const mid = columns[Math.floor((start + x) / 2)];
      bars.push({ height: mid.bottom - mid.top + 1, bottom: mid.bottom, width: x - start });
    }
    return bars.filter((b) => b.width > 3);  // a legend swatch or a stray pixel is no bar
  });

  function assertProportional(bars, values) {
    assert.equal(bars.length, values.length, `bars drawn: ${JSON.stringify(bars)}`);
    const bottoms = new Set(bars.map((b) => b.bottom));
    assert.ok(Math.max(...bottoms) - Math.min(...bottoms) <= 1, `every bar starts at the same zero line: ${JSON.stringify(bars)}`);
    const max = Math.max(...values), tallest = Math.max(...bars.map((b) => b.height));
    values.forEach((v, i) => {
      const expected = (v / max) * tallest;
      assert.ok(Math.abs(bars[i].height - expected) <= Math.max(2, 0.03 * tallest),
        `bar ${i} (value ${v}) is ${bars[i].height} px high; proportional from zero: ${expected.toFixed(1)} px`);
    });
  }

  test('ten widgets added to an empty dashboard fill the rows; duplicate; move and resize by keyboard', async () => {
    const page = await openSignedIn(browser, system.url, system.key, '/dashboard/', wide);
    await page.getByRole('button', { name: 'New dashboard' }).click();
    await page.getByRole('dialog', { name: 'New dashboard' }).getByLabel('Name', { exact: true }).fill('Layout');
    await page.getByRole('dialog', { name: 'New dashboard' }).getByRole('button', { name: 'Create' }).click();
    await page.getByRole('heading', { name: 'Layout' }).waitFor();
    await page.getByRole('button', { name: 'Edit dashboard' }).click();
    const kinds = ['count', 'count', 'stat', 'count', 'chart', 'count', 'analysis', 'count', 'stat', 'count'];
    for (const [i, type] of kinds.entries())
      await addWidget(page, { title: `W${i}`, type, counters: type === 'stat' ? [] : ['g.orders'] });
    const layout = await shownLayout(page);
    const all = Object.values(layout);
    assert.equal(all.length, 10);
    // Sizes suit the kind; nothing overlaps; the first rows are used across, not one column.
    assert.deepEqual([layout.w1.w, layout.w1.h, layout.w5.w, layout.w5.h, layout.w3.w], [3, 2, 6, 4, 4], JSON.stringify(layout));
    for (const [i, a] of all.entries()) for (const b of all.slice(i + 1))
      assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `overlap ${JSON.stringify([a, b])}`);
    const firstRows = all.filter((l) => l.y < 2);
    const columns = new Set(firstRows.flatMap((l) => Array.from({ length: l.w }, (_, k) => l.x + k)));
    assert.ok(firstRows.length >= 3 && columns.size >= 9,
      `the first rows hold ${firstRows.length} widgets over ${columns.size} of 12 columns: ${JSON.stringify(layout)}`);
    const bottom = Math.max(...all.map((l) => l.y + l.h));
    assert.ok(bottom <= 10, `ten widgets stacked ${bottom} rows deep`);
    await shot(page, 'dashboard-ten-added');

    // Duplicate the chart: a copy of the same kind and size, placed where it fits.
    await page.getByRole('button', { name: 'Duplicate W4' }).click();
    await page.getByRole('heading', { name: 'W4 (copy)' }).waitFor();
    const copy = (await shownLayout(page)).w11;
    assert.deepEqual([copy.w, copy.h], [6, 4]);

    // Keyboard: arrows move the focused widget, Shift + arrows resize it.
    const head = page.locator('.grid-stack-item:has(h3:text-is("W0")) .widget-head');
    const value = page.locator('.grid-stack-item:has(h3:text-is("W0")) .value');
    await textMatches(value, /^4,000$/);  // a widget added while editing shows its value at once
    const fontSize = () => value.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
    const small = await fontSize();
    await head.focus();
    await page.keyboard.press('ArrowRight');
    assert.equal((await shownLayout(page)).w1.x, 1);
    await page.keyboard.press('Shift+ArrowDown');
    assert.equal((await shownLayout(page)).w1.h, 3);
    await page.keyboard.press('Shift+ArrowRight');
    assert.equal((await shownLayout(page)).w1.w, 4);
    await page.waitForFunction(([el, px]) => parseFloat(getComputedStyle(el).fontSize) > px, [await value.elementHandle(), small]);
    console.log(`# count widget text: ${small} px at 3×2, ${await fontSize()} px at 4×3`);
    await textMatches(page.getByRole('status').filter({ hasText: 'W0:' }), /column 2, row \d+, 4 wide, 3 high/);
    await textMatches(page.locator('.save-state'), /Unsaved changes/);
    await page.getByRole('button', { name: 'Save layout' }).click();
    await page.getByRole('button', { name: 'Edit dashboard' }).waitFor();
    await textMatches(page.locator('.save-state'), /Saved at \d/);  // the save is shown
    const saved = await api('GET', '/dashboard/api/v1/dashboards/layout');
    assert.equal(saved.widgets.length, 11);
    assert.deepEqual(saved.widgets.find((w) => w.id === 'w1').layout, { ...layout.w1, x: 1, w: 4, h: 3, y: saved.widgets.find((w) => w.id === 'w1').layout.y });
    await page.context().close();
  });

  test('every chart fills at least 80 % of its panel, after a window and a panel resize', async () => {
    await stored('charts', 'Charts', charts);
    const page = await openDashboard('charts');
    await page.waitForFunction(() => document.querySelectorAll('.grid-stack-item .chart canvas').length === 6, null, { timeout: 10_000 });
    const before = await settledFills(page);
    for (const f of before) assert.ok(f.share >= 0.8 && f.share <= 1, `chart ${f.id} fills ${(100 * f.share).toFixed(0)} % of its panel: ${JSON.stringify(before)}`);
    // A narrower window: every chart follows its panel.
    await page.setViewportSize({ width: 1000, height: 900 });
    const narrower = await settledFills(page, (f) => f.every((x, i) => x.width < before[i].width));
    for (const [i, f] of narrower.entries()) {
      assert.ok(f.width < before[i].width, `chart ${f.id} kept its width ${f.width}`);
      assert.ok(f.share >= 0.8 && f.share <= 1, `after the window resize chart ${f.id} fills ${(100 * f.share).toFixed(0)} %`);
    }
    // A taller and a lower panel (edit mode, keyboard).
    await page.setViewportSize(wide);
    await page.getByRole('button', { name: 'Edit dashboard' }).click();
    await page.getByRole('button', { name: 'Save layout' }).waitFor();  // edit mode rendered: keys resize
    await page.locator('.grid-stack-item:has(h3:text-is("Forecast")) .widget-head').focus();
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await page.locator('.grid-stack-item:has(h3:text-is("Visits")) .widget-head').focus();
    await page.keyboard.press('Shift+ArrowUp');
    const byId = (list, id) => list.find((f) => f.id === id);
    const followed = (f) =>
      byId(f, 'c3').height > byId(before, 'c3').height + 100 && byId(f, 'c6').height < byId(before, 'c6').height - 50;
    const resized = await settledFills(page, followed);
    assert.ok(followed(resized), `the forecast grew and the area chart shrank with their panels: ${JSON.stringify([before, resized, await shownLayout(page)])}`);
    for (const f of resized) assert.ok(f.share >= 0.8 && f.share <= 1, `after the panel resize chart ${f.id} fills ${(100 * f.share).toFixed(0)} %`);
    console.log(`# charts' share of their panel: ${resized.map((f) => `${f.id} ${(100 * f.share).toFixed(0)} %`).join(', ')}`);
    // The comparison widget draws bars from zero: 4,000 / 2,000 / 1,000.
    assertProportional(await barHeights(page.locator('.grid-stack-item:has(h3:text-is("Comparison")) .chart')), [4000, 2000, 1000]);
    await shot(page, 'dashboard-charts-resized');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.context().close();
  });

  test('a comparison bar is as high as its value, from zero (analysis page)', async () => {
    for (const [id, initialValue] of [['cmp.low', 1000], ['cmp.mid', 2000], ['cmp.high', 4000]])
      await api('POST', '/management/api/v1/counts', { id, initialValue });
    const page = await openSignedIn(browser, system.url, system.key, '/analysis/?ids=cmp.mid,cmp.high,cmp.low', wide);
    await page.getByRole('radio', { name: 'Comparison' }).check();
    await page.getByRole('button', { name: 'Analyse' }).click();
    await textMatches(page.getByRole('table', { name: 'Comparison' }), /cmp\.low/);
    const chart = page.locator('figure .chart');
    await chart.locator('canvas').waitFor();
    assertProportional(await barHeights(chart), [2000, 4000, 1000]);
    await page.context().close();
  });

  test('unsaved changes: leaving by a link, the dashboard switch or an unload asks first', async () => {
    await stored('guarded', 'Guarded', [['a', 'count', 'Orders', ['g.orders'], '', '', [0, 0, 3, 2]]]);
    const page = await openDashboard('guarded');
    await page.getByRole('button', { name: 'Edit dashboard' }).click();
    await page.getByRole('button', { name: 'Options of Orders' }).click();
    const options = page.getByRole('dialog', { name: 'Options of Orders' });
    await options.getByLabel('Title', { exact: true }).fill('Orders (changed)');
    await options.getByRole('button', { name: 'Apply' }).click();
    await textMatches(page.locator('.save-state'), /Unsaved changes/);
    // A link of the navigation: the console asks; "Stay" keeps the page and the change.
    await page.getByRole('link', { name: 'Analysis' }).click();
    const ask = page.getByRole('dialog', { name: 'Leave without saving?' });
    await textMatches(ask, /Guarded.*unsaved changes/s);
    await shot(page, 'dashboard-leave-asks');
    await ask.getByRole('button', { name: 'Stay on this page' }).click();
    assert.match(page.url(), /\/dashboard\/\?id=guarded$/);
    await page.getByRole('heading', { name: 'Orders (changed)' }).waitFor();
    // The dashboard switch asks too.
    await page.getByLabel('Dashboard', { exact: true }).selectOption('charts');
    await ask.getByRole('button', { name: 'Stay on this page' }).click();
    assert.match(page.url(), /id=guarded$/);
    // Unload (reload, closing the tab): the browser's own question, refused here.
    let asked = null;
    page.once('dialog', (d) => { asked = d.type(); void d.dismiss(); });
    await page.close({ runBeforeUnload: true });
    await page.waitForFunction(() => true);
    for (let i = 0; i < 50 && asked === null; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(asked, 'beforeunload');
    assert.equal(page.isClosed(), false);
    // Leaving on purpose: nothing was stored.
    await page.getByRole('link', { name: 'Analysis' }).click();
    await ask.getByRole('button', { name: 'Leave without saving' }).click();
    await page.getByRole('heading', { name: 'Analysis' }).waitFor();
    assert.equal((await api('GET', '/dashboard/api/v1/dashboards/guarded')).widgets[0].title, 'Orders');
    await page.context().close();
  });

  test('two browsers edit one dashboard: the stale save gets 409 and a clear message', async () => {
    await stored('shared', 'Shared', [['a', 'count', 'Orders', ['g.orders'], '', '', [0, 0, 3, 2]]]);
    const [first, second] = [await openDashboard('shared'), await openDashboard('shared')];
    async function rename(page, title) {
      await page.getByRole('button', { name: 'Edit dashboard' }).click();
      await page.getByRole('button', { name: /^Options of / }).click();
      const dialog = page.getByRole('dialog', { name: /^Options of / });
      await dialog.getByLabel('Title', { exact: true }).fill(title);
      await dialog.getByRole('button', { name: 'Apply' }).click();
    }
    await rename(first, 'Orders by the first');
    await rename(second, 'Orders by the second');
    await first.getByRole('button', { name: 'Save layout' }).click();
    await first.getByRole('button', { name: 'Edit dashboard' }).waitFor();
    const [response] = await Promise.all([
      second.waitForResponse((r) => r.request().method() === 'PUT' && r.url().endsWith('/dashboards/shared')),
      second.getByRole('button', { name: 'Save layout' }).click(),
    ]);
    assert.equal(response.status(), 409);
    assert.equal((await response.json()).type, '/problems/edit-conflict');
    await textMatches(second.getByRole('alert'), /someone else saved this dashboard/);
    await shot(second, 'dashboard-edit-conflict');
    assert.equal((await api('GET', '/dashboard/api/v1/dashboards/shared')).widgets[0].title, 'Orders by the first');
    // The second editor loads the stored version: the first one's change.
    await second.getByRole('button', { name: 'Load their version' }).click();
    await second.getByRole('heading', { name: 'Orders by the first' }).waitFor();
    await first.context().close();
    await second.context().close();
  });

  test('live everywhere: the summary follows the stream; one range and refresh for the charts', async () => {
    await stored('live', 'Live', [
      ['a', 'count', 'Visits', ['g.visits'], '', '', [0, 0, 3, 2]],
      ['s', 'stat', 'System', [], '', '24h', [3, 0, 4, 2]],
      ['c', 'chart', 'Orders', ['g.orders'], 'line', '24h', [7, 0, 5, 4]],
    ]);
    const page = await openDashboard('live');
    await page.locator('.live-state[data-state="live"]').waitFor({ timeout: 5000 });
    const sum = page.locator('.summary-bar [data-key="totalValue"] dd');
    const systemSum = page.locator('.widget-stat [data-key="totalValue"] dd');
    const before = Number((await sum.innerText()).replace(/\D/g, ''));
    await api('POST', '/api/v1/counts/g.visits/increment', { amount: 7 });
    // The summaries poll only every 30 s: within 3 s only the stream can have brought it.
    const want = new RegExp(`^${(before + 7).toLocaleString('en-US')}$`);
    await textMatches(sum, want, 3000);
    await textMatches(systemSum, want, 3000);
    // A counter that is not on this dashboard, created and changed through the API: the
    // stream's summary notice brings it, and 20 quick changes cost about one reload a second,
    // not one per change.
    const counters = page.locator('.summary-bar [data-key="totalCounters"] dd');
    const countersBefore = Number((await counters.innerText()).replace(/\D/g, ''));
    await api('POST', '/management/api/v1/counts', { id: 'g.elsewhere' });
    await textMatches(counters, new RegExp(`^${countersBefore + 1}$`), 4000);
    const summaryLoads = [];
    page.on('request', (r) => r.url().endsWith('/dashboard/api/v1/summary') && summaryLoads.push(Date.now()));
    const start = Date.now();
    for (let i = 0; i < 20; i++) await api('POST', '/api/v1/counts/g.elsewhere/increment', { amount: 1 });
    const wantAll = new RegExp(`^${(before + 27).toLocaleString('en-US')}$`);
    await textMatches(sum, wantAll, 4000);
    await textMatches(systemSum, wantAll, 4000);
    const seconds = (Date.now() - start) / 1000;
    assert.ok(summaryLoads.length <= 2 + seconds, `${summaryLoads.length} summary loads in ${seconds} s`);
    // The dashboard's time range replaces each chart's period; Refresh now reloads.
    const [series] = await Promise.all([
      page.waitForRequest((r) => r.url().includes('/analysis/api/v1/series')),
      page.getByLabel('Time range').selectOption('7d'),
    ]);
    const q = new URL(series.url()).searchParams;
    const span = Date.parse(q.get('to')) - Date.parse(q.get('from'));
    assert.ok(Math.abs(span - 7 * day) < 60e3, `the chart asked for ${span / day} days`);
    await Promise.all([
      page.waitForRequest((r) => r.url().includes('/analysis/api/v1/series')),
      page.getByRole('button', { name: 'Refresh now' }).click(),
    ]);
    await page.context().close();
  });

  test('friendly states: loading, empty, the default range from the history, a new counter marked, more matches counted', async () => {
    // Loading: a skeleton while the chart's history is on its way.
    const context = await browser.newContext({ viewport: wide });
    await context.addInitScript((k) => sessionStorage.setItem('count.apiKey', k), system.key);
    let release;
    const held = new Promise((r) => { release = r; });
    await context.route('**/analysis/api/v1/series?**', async (route) => { await held; await route.continue(); });
    const page = await context.newPage();
    watch(page);
    await page.goto(system.url + '/dashboard/?id=live');
    await page.locator('.widget-chart .skeleton[aria-busy="true"]').waitFor();
    release();
    await page.locator('.widget-chart .chart canvas').waitFor();
    await context.close();

    // The analysis page chooses a range that holds the counter's 60 days of history.
    const analysis = await openSignedIn(browser, system.url, system.key, '/analysis/?ids=g.orders', wide);
    await analysis.waitForFunction(() => document.querySelector('#preset')?.value === '90d');
    await analysis.getByRole('button', { name: 'Analyse' }).click();
    await textMatches(analysis.locator('.summary'), /g\.orders is increasing/);
    // The counter picker says how many more match than it lists.
    await analysis.getByLabel('Find counters by id prefix').fill('page.');
    await textMatches(analysis.locator('.picker .more'), /and 13 more match/);
    await analysis.context().close();

    // A new counter is marked in the list; an error speaks the page's words.
    const mgmt = await openSignedIn(browser, system.url, system.key, '/management/', wide);
    await mgmt.getByRole('button', { name: 'New counter' }).click();
    const dialog = mgmt.getByRole('dialog', { name: 'New counter' });
    await dialog.getByLabel('Id', { exact: true }).fill('aaa.first');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await mgmt.locator('tr.fresh[data-id="aaa.first"]').waitFor();
    await mgmt.context().close();

    // An empty dashboard says what to do.
    await stored('blank', 'Blank', []);
    const blank = await openDashboard('blank');
    await textMatches(blank.locator('.empty'), /no widgets yet.*Add a widget/s);
    await blank.context().close();
  });

  test('export a dashboard as JSON and import it; a bad file is refused and changes nothing', async () => {
    const page = await openDashboard('charts');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
    const file = JSON.parse(await readFile(await download.path(), 'utf8'));
    assert.equal(file.id, 'charts');
    assert.deepEqual(file.widgets.map((w) => w.title), charts.map((c) => c[2]));
    const count = async () => (await api('GET', '/dashboard/api/v1/dashboards')).items.length;
    const n = await count();

    async function importFile(name, text) {
      await page.getByRole('button', { name: 'Import JSON' }).click();
      const dialog = page.getByRole('dialog', { name: 'Import a dashboard' });
      await dialog.getByLabel('Dashboard file (JSON)').setInputFiles({ name, mimeType: 'application/json', buffer: Buffer.from(text) });
      await dialog.getByRole('button', { name: 'Import' }).click();
      return dialog;
    }
    let dialog = await importFile('broken.json', '{"name": "x", "widgets": [');
    await textMatches(dialog.getByRole('alert'), /not JSON/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const bad = { ...file, widgets: [{ ...file.widgets[0], type: 'pie' }] };
    dialog = await importFile('bad.json', JSON.stringify(bad));
    await textMatches(dialog.getByRole('alert'), /Not imported\. .*widget 1 .*type must be count, chart, stat or analysis.*“Orders and returns”/i);
    await shot(page, 'dashboard-import-refused');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await count(), n, 'a refused import stores nothing');

    dialog = await importFile('charts.json', JSON.stringify(file));
    await dialog.waitFor({ state: 'detached' });
    await page.locator('body[data-dashboard-ready="true"]').waitFor();
    assert.match(page.url(), /id=charts-2$/);
    const copy = await api('GET', '/dashboard/api/v1/dashboards/charts-2');
    assert.deepEqual(copy.widgets, file.widgets);
    await page.context().close();
  });

  test('screenshots for docs/CONSOLE.md: the three pages and a dashboard of 12 widgets', async () => {
    await stored('overview', 'Overview', [
      ['o1', 'count', 'Orders', ['g.orders'], '', '', [0, 0, 3, 2]],
      ['o2', 'count', 'Returns', ['g.returns'], '', '', [3, 0, 3, 2]],
      ['o3', 'count', 'Payments', [long], '', '', [6, 0, 3, 2]],
      ['o4', 'stat', 'System', [], '', '24h', [9, 0, 3, 2]],
      ...charts.slice(0, 4).map(([id, ...rest]) => [`o-${id}`, ...rest.slice(0, 5), [rest[5][0], rest[5][1] + 2, rest[5][2], rest[5][3]]]),
      ['o9', 'stat', 'Orders and returns', ['g.orders', 'g.returns'], '', '24h', [0, 10, 4, 2]],
      ['o10', 'count', 'Web', ['g.visits', long], '', '', [4, 10, 4, 2]],
      ['o11', 'chart', 'Now', ['g.orders', 'g.returns', 'g.visits'], 'bar', '24h', [8, 10, 4, 4]],
      ['o12', 'chart', 'Visits', ['g.visits'], 'area', '30d', [0, 12, 8, 2]],
    ]);
    const page = await openDashboard('overview');
    await page.waitForFunction(() => document.querySelectorAll('.grid-stack-item .chart canvas').length === 6, null, { timeout: 10_000 });
    await page.locator('.live-state[data-state="live"]').waitFor({ timeout: 5000 });
    await page.waitForTimeout(900);  // the values' highlight fades
    await docShot(page, 'dashboard-12-widgets', { fullPage: true });
    await page.getByRole('button', { name: 'Edit dashboard' }).click();
    await docShot(page, 'dashboard-edit');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('body[data-dashboard-ready="true"]').waitFor();
    // Statistics show every figure whole, at 3 and at 4 columns wide.
    const cut = await page.evaluate(() => [...document.querySelectorAll('.widget-stat dd')]
      .filter((dd) => dd.scrollWidth > dd.clientWidth).map((dd) => dd.textContent));
    assert.deepEqual(cut, [], 'statistics cut off');
    // A long counter id is shortened with … and shown whole on hover.
    const id = page.locator(`.grid-stack-item:has(h3:text-is("Payments")) .count-id`);
    assert.equal(await id.getAttribute('title'), long);
    assert.ok(await id.evaluate((el) => el.scrollWidth > el.clientWidth), 'the long id is cut with an ellipsis');
    // Narrow: one column, the widgets in reading order (row by row, left to right).
    const order = async () => page.evaluate(() => [...document.querySelectorAll('.grid-stack-item')]
      .map((el) => ({ id: el.gridstackNode.id, top: el.getBoundingClientRect().top, left: el.getBoundingClientRect().left }))
      .sort((a, b) => a.top - b.top || a.left - b.left).map((x) => x.id));
    const reading = await order();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForFunction(() => document.querySelector('.grid-stack').gridstack.getColumn() === 1);
    assert.deepEqual(await order(), reading);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390, 'no sideways scrolling');
    await page.waitForTimeout(300);
    await docShot(page, 'dashboard-narrow', { fullPage: true });
    await page.context().close();

    const mgmt = await openSignedIn(browser, system.url, system.key, '/management/', wide);
    await mgmt.locator('tbody tr').first().waitFor();
    await docShot(mgmt, 'management');
    await mgmt.context().close();

    const analysis = await openSignedIn(browser, system.url, system.key, '/analysis/?ids=g.orders,g.returns', wide);
    await analysis.waitForFunction(() => document.querySelector('#preset')?.value === '90d');
    await analysis.getByRole('radio', { name: 'Prediction' }).check();
    await analysis.getByRole('button', { name: 'Analyse' }).click();
    await analysis.locator('figure .chart canvas').waitFor();
    await docShot(analysis, 'analysis');
    await analysis.context().close();
  });
});
