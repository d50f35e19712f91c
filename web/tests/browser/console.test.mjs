// The console end to end in headless Chromium against standalone count-system: one server
// and one browser for the run, a fresh browser context per test.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { apiClient, artifacts, launchBrowser, openSignedIn, pageErrors, shot, startSystem, watch } from './harness.mjs';

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
    // The key is revoked behind the page's back: the next call's 401 returns to the login.
    await page.evaluate(() => sessionStorage.setItem('count.apiKey', 'revoked'));
    await page.getByLabel('Search by id prefix').fill('x');
    await textMatches(page.getByRole('status'), /refused the API key/);
    await page.getByLabel('API key').waitFor();
    await shot(page, 'login-after-401');
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
    assert.match(await fieldError(dialog, 'Initial value'), /initialValue/);
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

  test('search by prefix and cursor paging', async () => {
    for (let i = 0; i < 25; i++) await api('POST', '/management/api/v1/counts', { id: `page.p${String(i).padStart(2, '0')}` });
    await api('POST', '/management/api/v1/counts', { id: 'other.one' });
    const page = await openSignedIn(browser, system.url, system.key, '/management/');
    await page.getByLabel('Search by id prefix').fill('page.');
    await page.locator('tr[data-id="other.one"]').waitFor({ state: 'detached' });
    await page.locator('tr[data-id="page.p00"]').waitFor();
    assert.equal(await page.locator('tbody tr').count(), 20);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('tr[data-id="page.p24"]').waitFor();
    assert.equal(await page.locator('tbody tr').count(), 5);
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
      assert.equal(await page.locator('.grid-stack-item').count(), 20);
      return { wall, mark: Math.round(mark) };
    };
    const cold = await measure();
    const warm = [];
    for (let i = 0; i < 5; i++) warm.push((await measure()).mark);
    warm.sort((a, b) => a - b);
    console.log(`# benchmark: dashboard of 20 widgets interactive (navigation start → grid built, values shown): ` +
      `first load ${cold.mark} ms (wall ${cold.wall} ms), reloads median ${warm[2]} ms (min ${warm[0]}, max ${warm[4]}); target < 1000 ms`);
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
